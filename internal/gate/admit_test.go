package gate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// heldEvaluator allows every event, but each evaluation waits until the
// test lets it go; it records the order evaluations began in and the most
// that ran at once.
type heldEvaluator struct {
	entered chan string
	release chan struct{}
	running atomic.Int64
	most    atomic.Int64
}

func newHeldEvaluator() *heldEvaluator {
	return &heldEvaluator{entered: make(chan string, 64), release: make(chan struct{})}
}

func (h *heldEvaluator) Evaluate(ctx context.Context, in policy.Input) (policy.Result, error) {
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for {
		m := h.most.Load()
		if n <= m || h.most.CompareAndSwap(m, n) {
			break
		}
	}
	h.entered <- in.Event.Principal
	select {
	case <-h.release:
	case <-ctx.Done():
		return policy.Result{}, ctx.Err()
	}
	d := policy.Decision{Allow: true}
	if err := d.Normalize(); err != nil {
		return policy.Result{}, err
	}
	return policy.Result{Decision: d, Revision: "sha256:held"}, nil
}

var _ policy.Evaluator = (*heldEvaluator)(nil)

// admissionFixture is a gate bounded to inFlight decisions and queued
// waiting ones, with its metrics.
type admissionFixture struct {
	fixture
	g       *gate.Gate
	ev      *heldEvaluator
	metrics *telemetry.Metrics
}

func newAdmissionFixture(t *testing.T, inFlight, queued int) admissionFixture {
	f := newFixture(t)
	for i := range 8 {
		f.agent(t, fmt.Sprintf("bot%d", i))
	}
	ev := newHeldEvaluator()
	m := telemetry.New(prometheus.NewRegistry())
	g := gate.New(gate.Options{Store: f.store, Identify: f.reg, Policy: ev, Killer: f.reg, Metrics: m,
		Revision: func() string { return "sha256:held" }, Failure: config.Default().Failure,
		MaxInFlight: inFlight, MaxQueued: queued})
	return admissionFixture{fixture: f, g: g, ev: ev, metrics: m}
}

func build(i int) gate.Request {
	return gate.Request{Event: event.Event{Provider: "generic", Kind: event.KindBuild, Principal: fmt.Sprintf("github:bot%d[bot]", i)},
		DeliveryID: fmt.Sprintf("d-%d", i)}
}

// decideAsync decides req in the background; the result arrives on the
// returned channel.
func (f admissionFixture) decideAsync(ctx context.Context, req gate.Request) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := f.g.Decide(ctx, req)
		done <- err
	}()
	return done
}

// waitQueued waits until n decisions wait for a slot.
func (f admissionFixture) waitQueued(t *testing.T, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(f.metrics.DecisionsQueued) != n {
		if time.Now().After(deadline) {
			t.Fatalf("decisions queued: %v, want %v", testutil.ToFloat64(f.metrics.DecisionsQueued), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f admissionFixture) head(t *testing.T) int64 {
	t.Helper()
	h, err := f.store.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAdmissionRefusesBeyondTheQueue(t *testing.T) {
	f := newAdmissionFixture(t, 1, 1)
	ctx := context.Background()
	first := f.decideAsync(ctx, build(0))
	if got := <-f.ev.entered; got != "github:bot0[bot]" {
		t.Fatalf("first evaluation is %s", got)
	}
	second := f.decideAsync(ctx, build(1))
	f.waitQueued(t, 1)
	before := f.head(t)

	// Refused at once, not after waiting: a wait would end with the
	// context's deadline, which is no queue_full refusal.
	refused, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := f.g.Decide(refused, build(2))
	if apperr.KindOf(err) != apperr.KindUnavailable || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third decision: %v (kind %s), want unavailable at once", err, apperr.KindOf(err))
	}
	if _, err := f.g.Evaluate(refused, build(3)); apperr.KindOf(err) != apperr.KindUnavailable || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dry run: %v, want unavailable at once", err)
	}
	if got := f.head(t); got != before {
		t.Fatalf("a refused decision was recorded: audit head %d -> %d", before, got)
	}
	if got := testutil.ToFloat64(f.metrics.DecisionsShed.WithLabelValues("queue_full")); got != 2 {
		t.Fatalf("shed queue_full = %v, want 2", got)
	}
	if got := testutil.ToFloat64(f.metrics.DecisionsInFlight); got != 1 {
		t.Fatalf("in flight = %v, want 1", got)
	}

	// The first decision's slot goes to the one that waited.
	f.ev.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := <-f.ev.entered; got != "github:bot1[bot]" {
		t.Fatalf("second evaluation is %s", got)
	}
	f.ev.release <- struct{}{}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if got := f.head(t); got != before+2 {
		t.Fatalf("audit head %d, want %d: both admitted decisions recorded", got, before+2)
	}
	if got := testutil.ToFloat64(f.metrics.DecisionsInFlight) + testutil.ToFloat64(f.metrics.DecisionsQueued); got != 0 {
		t.Fatalf("in flight + queued = %v after every decision ended", got)
	}
}

func TestAdmissionWaitEndsWithTheRequest(t *testing.T) {
	tests := []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		wantKind apperr.Kind
		wantErr  error
	}{
		{name: "deadline", wantKind: apperr.KindUnavailable, wantErr: context.DeadlineExceeded,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
		{name: "client went away", wantKind: apperr.KindCanceled, wantErr: context.Canceled,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newAdmissionFixture(t, 1, 4)
			first := f.decideAsync(context.Background(), build(0))
			<-f.ev.entered
			before := f.head(t)
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := f.g.Decide(ctx, build(1))
			if apperr.KindOf(err) != tc.wantKind || !errors.Is(err, tc.wantErr) {
				t.Fatalf("waiting decision: %v (kind %s), want %s wrapping %v", err, apperr.KindOf(err), tc.wantKind, tc.wantErr)
			}
			if got := testutil.ToFloat64(f.metrics.DecisionsShed.WithLabelValues("wait_ended")); got != 1 {
				t.Fatalf("shed wait_ended = %v, want 1", got)
			}
			f.waitQueued(t, 0)
			f.ev.release <- struct{}{}
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if got := f.head(t); got != before+1 {
				t.Fatalf("audit head %d, want %d: only the admitted decision recorded", got, before+1)
			}
		})
	}
}

func TestAdmissionKeepsArrivalOrder(t *testing.T) {
	f := newAdmissionFixture(t, 1, 8)
	ctx := context.Background()
	done := []<-chan error{f.decideAsync(ctx, build(0))}
	<-f.ev.entered
	for i := 1; i < 6; i++ {
		done = append(done, f.decideAsync(ctx, build(i)))
		f.waitQueued(t, float64(i))
	}
	for i := range done {
		if i > 0 {
			if got, want := <-f.ev.entered, fmt.Sprintf("github:bot%d[bot]", i); got != want {
				t.Fatalf("evaluation %d is %s, want %s", i, got, want)
			}
		}
		f.ev.release <- struct{}{}
		if err := <-done[i]; err != nil {
			t.Fatal(err)
		}
	}
}

func TestAdmissionBoundsConcurrentDecisions(t *testing.T) {
	const limit, callers = 3, 24
	f := newAdmissionFixture(t, limit, callers)
	go func() {
		for range callers {
			<-f.ev.entered
			time.Sleep(time.Millisecond)
			f.ev.release <- struct{}{}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			req := build(i % 8)
			req.DeliveryID = fmt.Sprintf("c-%d", i)
			_, err := f.g.Decide(context.Background(), req)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most := f.ev.most.Load(); most > limit || most < 2 {
		t.Fatalf("at most %d evaluations ran at once, want 2..%d", most, limit)
	}
}

// buildBy is a build by principal p with delivery id d.
func buildBy(p, d string) gate.Request {
	return gate.Request{Event: event.Event{Provider: "generic", Kind: event.KindBuild, Principal: p}, DeliveryID: d}
}

// evaluations lets n held evaluations go one at a time and returns the
// principals in the order they were evaluated.
func (f admissionFixture) evaluations(n int) []string {
	var order []string
	for range n {
		order = append(order, <-f.ev.entered)
		f.ev.release <- struct{}{}
	}
	return order
}

// holdAndQueue puts a decision of bot0 in the one slot and queues a
// decision of each of principals behind it, in that order; it returns
// the held decision's result and the queued ones'.
func (f admissionFixture) holdAndQueue(t *testing.T, principals ...string) (held <-chan error, queued []<-chan error) {
	t.Helper()
	ctx := context.Background()
	held = f.decideAsync(ctx, buildBy("github:bot0[bot]", "held"))
	<-f.ev.entered
	for i, p := range principals {
		queued = append(queued, f.decideAsync(ctx, buildBy(p, fmt.Sprintf("queued-%d", i))))
		f.waitQueued(t, float64(i+1))
	}
	return held, queued
}

// TestAdmissionTakesTurnsAcrossPrincipals: one agent's burst does not hold
// up the others: the principals with decisions waiting take turns, one
// decision each, and each principal's decisions keep their order.
func TestAdmissionTakesTurnsAcrossPrincipals(t *testing.T) {
	f := newAdmissionFixture(t, 1, 16)
	queue := []string{"github:bot1[bot]", "github:bot1[bot]", "github:bot1[bot]", "github:bot1[bot]", "github:bot2[bot]", "github:bot3[bot]"}
	held, queued := f.holdAndQueue(t, queue...)
	done := append([]<-chan error{held}, queued...)
	f.ev.release <- struct{}{}
	got := f.evaluations(len(queue))
	want := []string{"github:bot1[bot]", "github:bot2[bot]", "github:bot3[bot]", "github:bot1[bot]", "github:bot1[bot]", "github:bot1[bot]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("evaluated in the order %v, want %v", got, want)
	}
	for _, d := range done {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdmissionQueueFullRefusesTheLongestLine: with every place taken by
// one agent's burst, another principal's decision takes the place of the
// burst's newest; one more of the burst is refused at once.
func TestAdmissionQueueFullRefusesTheLongestLine(t *testing.T) {
	f := newAdmissionFixture(t, 1, 3)
	ctx := context.Background()
	first, burst := f.holdAndQueue(t, "github:bot1[bot]", "github:bot1[bot]", "github:bot1[bot]")
	other := f.decideAsync(ctx, buildBy("github:bot2[bot]", "other"))
	// The burst's newest is refused, and the other decision waits in its
	// place.
	select {
	case err := <-burst[2]:
		if apperr.KindOf(err) != apperr.KindUnavailable {
			t.Fatalf("the burst's newest: %v, want unavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the burst's newest decision kept its place")
	}
	f.waitQueued(t, 3)
	refused, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := f.g.Decide(refused, buildBy("github:bot1[bot]", "one-more")); apperr.KindOf(err) != apperr.KindUnavailable || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("one more of the burst: %v, want unavailable at once", err)
	}
	if got := testutil.ToFloat64(f.metrics.DecisionsShed.WithLabelValues("queue_full")); got != 2 {
		t.Fatalf("shed queue_full = %v, want 2", got)
	}
	f.ev.release <- struct{}{}
	if got, want := fmt.Sprint(f.evaluations(3)), fmt.Sprint([]string{"github:bot1[bot]", "github:bot2[bot]", "github:bot1[bot]"}); got != want {
		t.Fatalf("evaluated in the order %s, want %s", got, want)
	}
	for _, d := range []<-chan error{first, burst[0], burst[1], other} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(f.metrics.DecisionsInFlight) + testutil.ToFloat64(f.metrics.DecisionsQueued); got != 0 {
		t.Fatalf("in flight + queued = %v after every decision ended", got)
	}
}

// TestAdmissionSpellingsShareALine: another spelling of the same account
// is the same line, so an agent cannot take others' places by varying the
// case of its login.
func TestAdmissionSpellingsShareALine(t *testing.T) {
	f := newAdmissionFixture(t, 1, 3)
	first, burst := f.holdAndQueue(t, "github:bot1[bot]", "github:bot1[bot]", "GitHub:Bot1[bot]")
	refused, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := f.g.Decide(refused, buildBy("GITHUB:BOT1[BOT]", "respelled")); apperr.KindOf(err) != apperr.KindUnavailable || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a respelled decision of the burst: %v, want unavailable at once", err)
	}
	f.ev.release <- struct{}{}
	f.evaluations(3)
	for _, d := range append(burst, first) {
		if err := <-d; err != nil {
			t.Fatalf("a waiting decision lost its place to a respelling: %v", err)
		}
	}
}

// TestAdmissionAgentsPrincipalsShareALine (bypass attempt): an agent
// registered under two principals, sending a burst through both, gets one
// turn per round like any other agent, not one per principal.
func TestAdmissionAgentsPrincipalsShareALine(t *testing.T) {
	f := newAdmissionFixture(t, 1, 16)
	ctx := context.Background()
	gh, gl := "github:multi[bot]", "gitlab:multi-bot"
	if _, _, err := f.reg.Provision(ctx, "test", registry.Spec{Name: "multi", Type: "coding", Owner: "alice",
		Environments: []string{"staging"}, Principals: []string{gh, gl}}); err != nil {
		t.Fatal(err)
	}
	// One decision through each principal identifies them as the agent.
	for i, p := range []string{gh, gl} {
		done := f.decideAsync(ctx, buildBy(p, fmt.Sprintf("first-%d", i)))
		f.evaluations(1)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	held, queued := f.holdAndQueue(t, gh, gl, gh, "github:bot2[bot]")
	f.ev.release <- struct{}{}
	got := f.evaluations(len(queued))
	want := []string{gh, "github:bot2[bot]", gl, gh}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("evaluated in the order %v, want %v (the agent's principals took a turn each)", got, want)
	}
	for _, d := range append(queued, held) {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdmissionLeaksNoSlot: decisions whose requests end while they wait,
// at random moments against slots being handed over, neither leak a slot
// nor leave one counted: afterwards every slot is free again.
func TestAdmissionLeaksNoSlot(t *testing.T) {
	const limit, callers = 2, 96
	f := newAdmissionFixture(t, limit, 6)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-f.ev.entered:
				time.Sleep(200 * time.Microsecond)
				// The evaluation may have ended with its request; then
				// the next one takes this release.
				select {
				case f.ev.release <- struct{}{}:
				case <-stop:
					return
				}
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*300*time.Microsecond)
			defer cancel()
			_, err := f.g.Decide(ctx, buildBy(fmt.Sprintf("github:bot%d[bot]", i%4), fmt.Sprintf("leak-%d", i)))
			if err != nil && apperr.KindOf(err) != apperr.KindUnavailable && apperr.KindOf(err) != apperr.KindCanceled && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("decision %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-stopped
	for len(f.ev.entered) > 0 {
		<-f.ev.entered // evaluations that ended with their requests
	}
	if most := f.ev.most.Load(); most > limit {
		t.Fatalf("%d evaluations ran at once, bound %d", most, limit)
	}
	if got := testutil.ToFloat64(f.metrics.DecisionsInFlight) + testutil.ToFloat64(f.metrics.DecisionsQueued); got != 0 {
		t.Fatalf("in flight + queued = %v after every decision ended", got)
	}
	// Every slot is free: limit decisions are evaluated at the same time.
	var after []<-chan error
	for i := range limit {
		after = append(after, f.decideAsync(context.Background(), buildBy("github:bot5[bot]", fmt.Sprintf("after-%d", i))))
	}
	for range limit {
		select {
		case <-f.ev.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("a slot was leaked: fewer decisions than the bound evaluated at once")
		}
	}
	for range limit {
		f.ev.release <- struct{}{}
	}
	for _, d := range after {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
}
