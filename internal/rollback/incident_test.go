package rollback

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// incidentEngine is a test engine whose clock the test moves.
type incidentEngine struct {
	*testEngine
	now time.Time
}

func newIncidentEngine(t *testing.T, q *scriptQuerier) *incidentEngine {
	t.Helper()
	ie := &incidentEngine{now: time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)}
	ie.testEngine = &testEngine{store: NewMemoryStore(), exec: &fakeExecutor{}, querier: q}
	n := 0
	e, err := New(Config{
		History: &fakeHistory{ds: deployments()}, Store: ie.store, Querier: q,
		Executors: map[string]Executor{"github": ie.exec},
		OnRollback: func(_ context.Context, o Outcome) {
			ie.mu.Lock()
			defer ie.mu.Unlock()
			ie.outcomes = append(ie.outcomes, o)
		},
		Now:            func() time.Time { return ie.now },
		NewID:          func() string { n++; return fmt.Sprintf("id-%d", n) },
		Backoff:        time.Millisecond,
		IncidentWindow: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ie.Engine = e
	return ie
}

// fire delivers a firing alert for the agent's deployment and runs the
// rollbacks it created, as the Alertmanager webhook does.
func (ie *incidentEngine) fire(t *testing.T, name string) {
	t.Helper()
	tg := Target{Provider: "github", Repo: "shop/checkout", Environment: "production", Action: ActionRollback,
		Source: SourceAlert, StartsAt: deployments()[0].At.Add(time.Minute), Reason: "alertmanager: " + name}
	rbs, err := ie.HandleAlerts(t.Context(), []Target{tg})
	if err != nil {
		t.Fatal(err)
	}
	for _, rb := range rbs {
		if rb.State == RollbackPending {
			if _, err := ie.Run(t.Context(), rb.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (ie *incidentEngine) resolve(t *testing.T) {
	t.Helper()
	tg := Target{Provider: "github", Repo: "shop/checkout", Environment: "production"}
	if err := ie.ResolveAlerts(t.Context(), []Target{tg}); err != nil {
		t.Fatal(err)
	}
}

// watchTrips opens a watch on the agent's deployment and ticks it until it
// trips (the querier returns breaching values).
func (ie *incidentEngine) watchTrips(t *testing.T) Watch {
	t.Helper()
	ie.querier.values = []float64{0.01, 0.5, 0.5}
	w, err := ie.Open(t.Context(), deployments()[0], spec)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ie.now = ie.now.Add(time.Minute)
		if _, err := ie.Tick(t.Context(), ie.now); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ie.store.GetWatch(t.Context(), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Ended {
		t.Fatalf("watch did not trip: %+v", got)
	}
	return got
}

func TestEngineIncident(t *testing.T) {
	type step func(t *testing.T, ie *incidentEngine)
	fire := func(name string) step { return func(t *testing.T, ie *incidentEngine) { ie.fire(t, name) } }
	wait := func(d time.Duration) step { return func(_ *testing.T, ie *incidentEngine) { ie.now = ie.now.Add(d) } }
	resolve := func(t *testing.T, ie *incidentEngine) { ie.resolve(t) }
	watch := func(want State) step {
		return func(t *testing.T, ie *incidentEngine) {
			if w := ie.watchTrips(t); w.State != want {
				t.Fatalf("watch state %s (%s), want %s", w.State, w.Detail, want)
			}
		}
	}
	tests := []struct {
		name  string
		steps []step
		// rollbacks is how many times the provider was called, and so how
		// many outcomes (consequences) there were.
		rollbacks int
	}{
		{"repeat notifications of one firing alert", []step{fire("HighErrorRate"), wait(4 * time.Hour), fire("HighErrorRate"), wait(4 * time.Hour), fire("HighErrorRate")}, 1},
		{"two alerts of one group", []step{fire("HighErrorRate"), fire("LatencySLOBurn")}, 1},
		{"a flap within the incident window", []step{fire("HighErrorRate"), wait(time.Minute), resolve, wait(9 * time.Minute), fire("HighErrorRate")}, 1},
		{"a watch trips on the spike an alert reported", []step{fire("HighErrorRate"), watch(StateRolledBack)}, 1},
		{"an alert reports the spike a watch tripped on", []step{watch(StateRolledBack), fire("HighErrorRate"), fire("HighErrorRate")}, 1},
		{"a new incident after the deployment recovered", []step{fire("HighErrorRate"), resolve, wait(10 * time.Minute), fire("HighErrorRate")}, 2},
		{"resolved alerts alone roll nothing back", []step{resolve, wait(time.Hour), resolve}, 0},
		{"a watch on its own", []step{watch(StateRolledBack)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ie := newIncidentEngine(t, &scriptQuerier{})
			for _, s := range tc.steps {
				s(t, ie)
			}
			if n := len(ie.exec.calls); n != tc.rollbacks {
				t.Fatalf("provider called %d times, want %d", n, tc.rollbacks)
			}
			if n := len(ie.outcomes); n != tc.rollbacks {
				t.Fatalf("%d outcomes reported, want %d: %+v", n, tc.rollbacks, ie.outcomes)
			}
		})
	}
}

func TestIncidentOpen(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	const w = 10 * time.Minute
	tests := []struct {
		name string
		inc  Incident
		at   time.Time
		want bool
	}{
		{"firing, long after", Incident{LastAt: t0, Firing: true}, t0.Add(24 * time.Hour), true},
		{"quiet, within the window", Incident{LastAt: t0}, t0.Add(w - time.Nanosecond), true},
		{"quiet, at the end of the window", Incident{LastAt: t0}, t0.Add(w), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.inc.Open(tc.at, w); got != tc.want {
				t.Fatalf("Open = %v, want %v", got, tc.want)
			}
		})
	}
}
