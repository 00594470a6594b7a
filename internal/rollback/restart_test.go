package rollback_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

// constQuerier answers every query with one error ratio.
type constQuerier struct{ v float64 }

func (q constQuerier) Query(context.Context, string, time.Time) (float64, bool, error) {
	return q.v, true, nil
}

// recordingExecutor records rollbacks.
type recordingExecutor struct {
	mu  sync.Mutex
	got []string
}

func (r *recordingExecutor) Rollback(_ context.Context, t rollback.Target, to store.Deployment) (rollback.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, t.Repo+"@"+to.SHA)
	return rollback.Result{Provider: t.Provider, Method: "rerun"}, nil
}

// TestWatchSurvivesRestart: a watch opened before a restart is picked up by
// the engine of the next process, from the store, and still rolls back.
func TestWatchSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentgate.db")
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	open := func(q rollback.Querier, ex rollback.Executor) (*sqlstore.Store, *rollback.Engine) {
		st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		e, err := rollback.New(rollback.Config{History: st, Store: st, Querier: q,
			Executors: map[string]rollback.Executor{"github": ex}, Now: clock, Backoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return st, e
	}

	// Process one: two deployments recorded, a watch opened on the newest.
	st, e := open(constQuerier{0.01}, &recordingExecutor{})
	for _, d := range []store.Deployment{
		{ID: "d1", Provider: "github", Repo: "acme/api", Environment: "production", SHA: "good", Principal: "github:bot[bot]", AgentID: "a1", Handles: map[string]string{"run_id": "1"}, At: now.Add(-time.Hour)},
		{ID: "d2", Provider: "github", Repo: "acme/api", Environment: "production", SHA: "bad", Principal: "github:bot[bot]", AgentID: "a1", Handles: map[string]string{"run_id": "2"}, At: now},
	} {
		if err := st.RecordDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	w, err := e.Open(ctx, store.Deployment{ID: "d2", Provider: "github", Repo: "acme/api", Environment: "production", SHA: "bad", AgentID: "a1", At: now},
		rollback.WatchSpec{Query: `errors{app="{{.App}}"}`, Threshold: 0.05, TripAfter: 2, NoDataAfter: 3, Interval: time.Minute, Window: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close() // the process stops

	// Process two: the error ratio is up; the stored watch trips.
	ex := &recordingExecutor{}
	st, e = open(constQuerier{0.5}, ex)
	defer st.Close()
	for i := 0; i < 4; i++ {
		now = now.Add(time.Minute)
		if _, err := e.Tick(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.GetWatch(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != rollback.StateRolledBack || len(ex.got) != 1 || ex.got[0] != "acme/api@good" {
		t.Fatalf("after restart: watch %s (%s), rollbacks %v", got.State, got.Detail, ex.got)
	}
}
