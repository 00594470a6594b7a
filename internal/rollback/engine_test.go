package rollback

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/store"
)

// fakeHistory returns its deployments (newest first) for any filter.
type fakeHistory struct{ ds []store.Deployment }

func (h *fakeHistory) ListDeployments(_ context.Context, f store.DeploymentFilter) ([]store.Deployment, error) {
	var out []store.Deployment
	for _, d := range h.ds {
		if d.Provider == f.Provider && d.Repo == f.Repo && d.Environment == f.Environment {
			out = append(out, d)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// scriptQuerier returns values in turn; a NaN-free negative means no data.
type scriptQuerier struct {
	mu     sync.Mutex
	values []float64
	err    error
}

func (q *scriptQuerier) Query(context.Context, string, time.Time) (float64, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return 0, false, q.err
	}
	if len(q.values) == 0 {
		return 0, false, nil
	}
	v := q.values[0]
	q.values = q.values[1:]
	return v, v >= 0, nil
}

// fakeExecutor records rollbacks and fails with errs in turn.
type fakeExecutor struct {
	mu    sync.Mutex
	calls []store.Deployment
	errs  []error
}

func (f *fakeExecutor) Rollback(_ context.Context, t Target, to store.Deployment) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, to)
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return Result{}, err
		}
	}
	return Result{Provider: t.Provider, Method: "fake", Ref: to.ID}, nil
}

func deployments() []store.Deployment {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	return []store.Deployment{
		{ID: "d3", Provider: "github", Repo: "shop/checkout", Environment: "production", SHA: "cccccccc", AgentID: "agent-1", At: t0.Add(2 * time.Hour)},
		{ID: "d2", Provider: "github", Repo: "shop/checkout", Environment: "production", SHA: "bbbbbbbb", At: t0.Add(time.Hour)},
		{ID: "d1", Provider: "github", Repo: "shop/checkout", Environment: "production", SHA: "aaaaaaaa", At: t0},
	}
}

type testEngine struct {
	*Engine
	store    *MemoryStore
	exec     *fakeExecutor
	querier  *scriptQuerier
	mu       sync.Mutex
	outcomes []Outcome
}

func newTestEngine(t *testing.T, q *scriptQuerier) *testEngine {
	t.Helper()
	te := &testEngine{store: NewMemoryStore(), exec: &fakeExecutor{}, querier: q}
	n := 0
	e, err := New(Config{
		History: &fakeHistory{ds: deployments()}, Store: te.store, Querier: q,
		Executors: map[string]Executor{"github": te.exec},
		OnRollback: func(_ context.Context, o Outcome) {
			te.mu.Lock()
			defer te.mu.Unlock()
			te.outcomes = append(te.outcomes, o)
		},
		Now:     func() time.Time { return time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC) },
		NewID:   func() string { n++; return fmt.Sprintf("id-%d", n) },
		Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	te.Engine = e
	return te
}

var spec = WatchSpec{Query: `ratio{app="{{.App}}"}`, Threshold: 0.1, BaselineFactor: 3, TripAfter: 2, NoDataAfter: 2, Window: 10 * time.Minute, Interval: time.Minute}

func TestEngineWatch(t *testing.T) {
	start := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		values     []float64 // first is the baseline
		wantState  State
		wantRolled bool
	}{
		{"spike rolls back", []float64{0.01, 0.2, 0.3}, StateRolledBack, true},
		{"flat passes", []float64{0.01, 0.01, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01}, StatePassed, false},
		{"baseline spike rolls back", []float64{0.02, 0.07, 0.08}, StateRolledBack, true},
		{"no data never rolls back", []float64{0.01}, StateNoData, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEngine(t, &scriptQuerier{values: tc.values})
			w, err := te.Open(context.Background(), deployments()[0], spec)
			if err != nil {
				t.Fatal(err)
			}
			if w.PreviousDeploymentID != "d2" || w.Baseline != tc.values[0] {
				t.Fatalf("opened %+v", w)
			}
			for i := 1; i <= 10; i++ {
				if _, err := te.Tick(context.Background(), start.Add(time.Duration(i)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := te.store.GetWatch(context.Background(), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.wantState {
				t.Fatalf("state %s (%s), want %s", got.State, got.Detail, tc.wantState)
			}
			if tc.wantRolled != (len(te.exec.calls) == 1) {
				t.Fatalf("executor calls %+v", te.exec.calls)
			}
			if tc.wantRolled {
				if te.exec.calls[0].ID != "d2" || len(te.outcomes) != 1 || te.outcomes[0].Watch == nil ||
					te.outcomes[0].Rollback.State != RollbackSucceeded || te.outcomes[0].Rollback.FromDeploymentID != "d3" {
					t.Fatalf("outcomes %+v", te.outcomes)
				}
			}
		})
	}
}

func TestEngineWatchRollbackFails(t *testing.T) {
	te := newTestEngine(t, &scriptQuerier{values: []float64{0.01, 0.5, 0.5}})
	te.exec.errs = []error{errors.New("503"), &providers.PermanentError{Err: errors.New("404")}}
	w, err := te.Open(context.Background(), deployments()[0], spec)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	_, _ = te.Tick(context.Background(), now.Add(time.Minute))
	if _, err := te.Tick(context.Background(), now.Add(2*time.Minute)); err == nil {
		t.Fatal("failed rollback not reported by Tick")
	}
	got, _ := te.store.GetWatch(context.Background(), w.ID)
	if got.State != StateFailed || len(te.exec.calls) != 2 || te.outcomes[0].Rollback.Attempts != 2 || te.outcomes[0].Rollback.State != RollbackFailed {
		t.Fatalf("watch %s, calls %d, outcomes %+v", got.State, len(te.exec.calls), te.outcomes)
	}
}

func TestEngineRequest(t *testing.T) {
	tests := []struct {
		name     string
		req      Request
		wantTo   string
		wantKind apperr.Kind
	}{
		{"previous", Request{Target: Target{Provider: "github", Repo: "shop/checkout", Environment: "production"}, To: "previous"}, "d2", ""},
		{"by sha prefix", Request{Target: Target{Provider: "GitHub", Repo: "shop/checkout", Environment: "production"}, To: "aaaaaaa"}, "d1", ""},
		{"current sha", Request{Target: Target{Provider: "github", Repo: "shop/checkout", Environment: "production"}, To: "cccccccc"}, "", apperr.KindInvalid},
		{"unknown sha", Request{Target: Target{Provider: "github", Repo: "shop/checkout", Environment: "production"}, To: "deadbeef"}, "", apperr.KindNotFound},
		{"short sha", Request{Target: Target{Provider: "github", Repo: "shop/checkout", Environment: "production"}, To: "abc"}, "", apperr.KindInvalid},
		{"no history", Request{Target: Target{Provider: "github", Repo: "shop/other", Environment: "production"}}, "", apperr.KindNotFound},
		{"unknown provider", Request{Target: Target{Provider: "jenkins", Repo: "shop/checkout", Environment: "production"}}, "", apperr.KindInvalid},
		{"missing environment", Request{Target: Target{Provider: "github", Repo: "shop/checkout"}}, "", apperr.KindInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEngine(t, &scriptQuerier{})
			r, created, err := te.Request(context.Background(), tc.req)
			if tc.wantKind != "" {
				if apperr.KindOf(err) != tc.wantKind {
					t.Fatalf("error %v, want kind %s", err, tc.wantKind)
				}
				return
			}
			if err != nil || !created || r.To.ID != tc.wantTo || r.State != RollbackPending || r.Target.Source != SourceRequest {
				t.Fatalf("request = %+v, %v, %v", r, created, err)
			}
			// A second request for the same target joins the first.
			again, created, err := te.Request(context.Background(), tc.req)
			if err != nil || created || again.ID != r.ID {
				t.Fatalf("duplicate = %+v, %v, %v", again, created, err)
			}
			if _, err := te.Tick(context.Background(), time.Now()); err != nil {
				t.Fatal(err)
			}
			done, _ := te.store.GetRollback(context.Background(), r.ID)
			if done.State != RollbackSucceeded || len(te.exec.calls) != 1 || te.exec.calls[0].ID != tc.wantTo {
				t.Fatalf("after tick %+v, calls %+v", done, te.exec.calls)
			}
			// Finished: running it again does nothing; a new request is new.
			if again, err := te.Run(context.Background(), r.ID); err != nil || again.State != RollbackSucceeded || len(te.exec.calls) != 1 {
				t.Fatalf("rerun %+v, %v", again, err)
			}
			if _, created, _ := te.Request(context.Background(), tc.req); !created {
				t.Fatal("request after completion was de-duplicated")
			}
		})
	}
}

func TestEngineHandleAlerts(t *testing.T) {
	te := newTestEngine(t, &scriptQuerier{})
	after := deployments()[0].At.Add(time.Minute)
	targets := []Target{
		{Provider: "github", Repo: "shop/checkout", Environment: "production", Action: ActionRollback, Source: SourceAlert, StartsAt: after, Reason: "alertmanager: HighErrorRate"},
		{Provider: "github", Repo: "shop/checkout", Environment: "production", Action: ActionNotify, Source: SourceAlert},
		{Provider: "github", Repo: "shop/other", Environment: "production", Action: ActionRollback, Source: SourceAlert},
	}
	rbs, errs := te.HandleAlerts(context.Background(), targets)
	if len(rbs) != 1 || rbs[0].To.ID != "d2" || rbs[0].RequestedBy != "alertmanager" || rbs[0].Target.Source != SourceAlert {
		t.Fatalf("rollbacks %+v", rbs)
	}
	if errs == nil || len(te.outcomes) != 1 || te.outcomes[0].Rollback.State != RollbackNotified {
		t.Fatalf("errs %v, outcomes %+v", errs, te.outcomes)
	}
	early := targets[0]
	early.StartsAt = deployments()[0].At.Add(-time.Minute)
	te2 := newTestEngine(t, &scriptQuerier{})
	if rbs, errs := te2.HandleAlerts(context.Background(), []Target{early}); len(rbs) != 0 || apperr.KindOf(errs) != apperr.KindConflict {
		t.Fatalf("alert before deploy: %+v, %v", rbs, errs)
	}
}

func TestEngineTripJoinsActiveRollback(t *testing.T) {
	te := newTestEngine(t, &scriptQuerier{values: []float64{0.01, 0.5, 0.5}})
	r, _, err := te.Request(context.Background(), Request{Target: Target{Provider: "github", Repo: "shop/checkout", Environment: "production"}, RequestedBy: "sre"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := te.store.ClaimRollback(context.Background(), r.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	w, err := te.Open(context.Background(), deployments()[0], spec)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	for i := 1; i <= 2; i++ {
		if _, err := te.Tick(context.Background(), now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := te.store.GetWatch(context.Background(), w.ID)
	if got.State != StateTripped || got.RollbackID != r.ID || len(te.exec.calls) != 0 {
		t.Fatalf("watch %+v, calls %d", got, len(te.exec.calls))
	}
}

func TestEngineOpenRejects(t *testing.T) {
	te := newTestEngine(t, &scriptQuerier{})
	bad := spec
	bad.Threshold, bad.BaselineFactor = 0, 0
	if _, err := te.Open(context.Background(), deployments()[0], bad); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("no limits: %v", err)
	}
	d := deployments()[0]
	d.Provider = "jenkins"
	if _, err := te.Open(context.Background(), d, spec); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, err := te.Open(context.Background(), deployments()[0], spec); err != nil {
		t.Fatal(err)
	}
	if _, err := te.Open(context.Background(), deployments()[0], spec); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second live watch: %v", err)
	}
}
