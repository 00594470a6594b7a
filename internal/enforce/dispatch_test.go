package enforce

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/telemetry"
)

type records struct {
	mu   sync.Mutex
	list []*audit.Record
}

func (r *records) AppendAudit(_ context.Context, rec *audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rec)
	return nil
}

type delayed struct{ d time.Duration }

func (e delayed) Error() string             { return "rate limited" }
func (e delayed) RetryDelay() time.Duration { return e.d }

func TestDispatcher(t *testing.T) {
	transient := errors.New("502 bad gateway")
	tests := []struct {
		name       string
		errs       []error // returned by successive attempts; nil after
		wantCalls  int
		wantResult string
		wantSleeps int
		minSleep   time.Duration
	}{
		{name: "succeeds at once", wantCalls: 1, wantResult: "success"},
		{name: "retries transient errors", errs: []error{transient, transient}, wantCalls: 3, wantResult: "success", wantSleeps: 2},
		{name: "stops at a permanent error", errs: []error{&providers.PermanentError{Err: errors.New("404")}}, wantCalls: 1, wantResult: "failure"},
		{name: "gives up after max attempts", errs: []error{transient, transient, transient, transient, transient}, wantCalls: 4, wantResult: "failure", wantSleeps: 3},
		{name: "honours retry-after", errs: []error{delayed{d: 45 * time.Second}}, wantCalls: 2, wantResult: "success", wantSleeps: 1, minSleep: 45 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &records{}
			m := telemetry.New(prometheus.NewRegistry())
			d := New(Options{Audit: rec, Metrics: m, MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond})
			var sleeps []time.Duration
			d.sleep = func(_ context.Context, dur time.Duration) error { sleeps = append(sleeps, dur); return nil }
			calls := 0
			d.do(context.Background(), Job{Provider: "github", Action: "enforce", DecisionID: "dec-1", Run: func(context.Context) error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			}})
			if calls != tc.wantCalls || len(sleeps) != tc.wantSleeps {
				t.Fatalf("calls = %d, sleeps = %v", calls, sleeps)
			}
			if tc.minSleep > 0 && sleeps[0] < tc.minSleep {
				t.Fatalf("slept %s, want at least %s", sleeps[0], tc.minSleep)
			}
			if len(rec.list) != 1 || rec.list[0].Kind != audit.KindEnforcement || rec.list[0].Details["result"] != tc.wantResult || rec.list[0].Details["decision_id"] != "dec-1" {
				t.Fatalf("audit = %+v", rec.list)
			}
			var metric dto.Metric
			if err := m.EnforcementFails.WithLabelValues("github", "enforce").Write(&metric); err != nil {
				t.Fatal(err)
			}
			failures := metric.GetCounter().GetValue()
			if (failures == 1) != (tc.wantResult == "failure") {
				t.Fatalf("failure metric = %v", failures)
			}
		})
	}
}

func TestNoActionIsNotRecorded(t *testing.T) {
	rec := &records{}
	d := New(Options{Audit: rec})
	calls := 0
	d.do(context.Background(), Job{Provider: "github", Action: "enforce", Run: func(context.Context) error { calls++; return providers.ErrNoAction }})
	if calls != 1 || len(rec.list) != 0 {
		t.Fatalf("calls %d, audit %+v", calls, rec.list)
	}
}

func TestDispatcherRunsQueuedJobsAndRefusesWhenFull(t *testing.T) {
	rec := &records{}
	d := New(Options{Audit: rec, Workers: 2, Queue: 1})
	block := make(chan struct{})
	d.Submit(Job{Provider: "github", Action: "enforce", Run: func(context.Context) error { <-block; return nil }})
	d.Submit(Job{Provider: "github", Action: "enforce", Run: func(context.Context) error { return nil }}) // queue full
	rec.mu.Lock()
	if len(rec.list) != 1 || !strings.Contains(rec.list[0].Message, "queue is full") {
		t.Fatalf("audit = %+v", rec.list)
	}
	rec.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	close(block)
	deadline := time.After(5 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.list)
		rec.mu.Unlock()
		if n == 2 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("queued job did not run")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}

func TestDispatcherAuditsJobsLeftAtShutdown(t *testing.T) {
	rec := &records{}
	d := New(Options{Audit: rec, Workers: 1, Queue: 4})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.Submit(Job{Provider: "github", Action: "release", Run: func(context.Context) error { return nil }})
	if err := d.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// The worker may have taken it before noticing the cancellation; either
	// way exactly one outcome is recorded.
	if len(rec.list) != 1 {
		t.Fatalf("audit = %+v", rec.list)
	}
}
