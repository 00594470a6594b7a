package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// newWatch returns a live watch of a deployment with every field set, due
// next after the base time.
func newWatch(id, deploymentID string, next time.Duration) store.Watch {
	base := baseTime()
	return store.Watch{
		ID: id, Provider: "github", Repo: "acme/api", Environment: "production", Namespace: "prod", App: "api",
		AgentID: "a1", DeploymentID: deploymentID, SHA: "sha-" + deploymentID,
		PreviousDeploymentID: "prev-" + deploymentID, PreviousSHA: "prev-sha",
		Query:     `sum(rate(errors{app="{{.App}}"}[5m])) / sum(rate(requests{app="{{.App}}"}[5m]))`,
		Threshold: 0.05, BaselineFactor: 2, Baseline: 0.01, Breaches: 1, TripAfter: 3, Gaps: 0, NoDataAfter: 3,
		Window: 15 * time.Minute, Interval: 30 * time.Second, StartedAt: base, EndsAt: base.Add(15 * time.Minute),
		NextAt: base.Add(next), State: store.WatchWatching, Detail: "error ratio 0.06 above threshold",
		Readings: []store.Reading{
			{At: base, Value: 0.06, HasData: true},
			{At: base.Add(30 * time.Second), Error: "prometheus: timeout"},
		},
	}
}

// newRollback returns a rollback of repo to production in state, created
// at the base time plus created, with every field set.
func newRollback(id, repo string, state store.RollbackState, created time.Duration) store.Rollback {
	base := baseTime()
	target := store.RollbackTarget{Provider: "github", Repo: repo, Environment: "production", Namespace: "prod",
		Action: "rollback", Source: "alert", Reason: "5xx burst", Fingerprint: "fp-" + id, StartsAt: base}
	return store.Rollback{
		ID: id, Key: target.Key(), Target: target, WatchID: "w-" + id, RequestedBy: "alice", Reason: "errors",
		FromDeploymentID: "d2", FromSHA: "sha2", FromAgentID: "a1",
		To: store.Deployment{ID: "d1", Provider: "github", Repo: repo, Environment: "production", SHA: "sha1",
			Ref: "refs/heads/main", Principal: "github:alice", Handles: map[string]string{"run_id": "41"}, At: base.Add(-time.Hour)},
		State: state, Result: store.RollbackResult{Provider: "github", Method: "rerun", Ref: "42", Steps: []string{"rerun 41"}},
		Attempts: 1, CreatedAt: base.Add(created), UpdatedAt: base.Add(created),
	}
}

// ids returns the ids of watches or rollbacks.
func ids[T any](items []T, id func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func watchID(w store.Watch) string       { return w.ID }
func rollbackID(r store.Rollback) string { return r.ID }

func testRollbacks(t *testing.T, s suite) {
	t.Run("watches", func(t *testing.T) { testRollbackWatches(t, s) })
	t.Run("due watches", func(t *testing.T) { testDueWatches(t, s) })
	t.Run("rollbacks", func(t *testing.T) { testRollbackRecords(t, s) })
	t.Run("pending rollbacks", func(t *testing.T) { testPendingRollbacks(t, s) })
	t.Run("list rollbacks", func(t *testing.T) { testListRollbacks(t, s) })
	t.Run("concurrent", func(t *testing.T) { testRollbacksConcurrent(t, s) })
	t.Run("in a transaction", func(t *testing.T) { testRollbacksInTx(t, s) })
	t.Run("incidents", func(t *testing.T) { testIncidents(t, s) })
	t.Run("list watches", func(t *testing.T) { testListWatches(t, s) })
}

func testRollbackWatches(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	w1 := newWatch("w1", "d1", time.Minute)
	must(t, rs.CreateWatch(ctx, w1))
	t.Run("round trip", func(t *testing.T) {
		got, err := rs.GetWatch(ctx, "w1")
		must(t, err)
		equal(t, "watch", got, w1)
	})
	conflicts := []struct {
		name string
		w    store.Watch
	}{
		{name: "same id", w: newWatch("w1", "d9", time.Minute)},
		{name: "second live watch of a deployment", w: newWatch("w2", "d1", time.Minute)},
	}
	for _, tc := range conflicts {
		t.Run("conflict: "+tc.name, func(t *testing.T) {
			wantErr(t, rs.CreateWatch(ctx, tc.w), store.ErrConflict)
		})
	}
	t.Run("no id is invalid", func(t *testing.T) {
		wantKind(t, rs.CreateWatch(ctx, newWatch("", "d8", time.Minute)), apperr.KindInvalid)
	})
	t.Run("new watch once the first ended", func(t *testing.T) {
		ended := w1
		ended.State, ended.Ended, ended.Detail, ended.Readings = store.WatchPassed, true, "window ended", nil
		must(t, rs.UpdateWatch(ctx, ended))
		got, err := rs.GetWatch(ctx, "w1")
		must(t, err)
		equal(t, "updated watch", got, ended)
		w2 := newWatch("w2", "d1", 2*time.Minute)
		must(t, rs.CreateWatch(ctx, w2))
		t.Run("reviving the ended one conflicts", func(t *testing.T) {
			wantErr(t, rs.UpdateWatch(ctx, w1), store.ErrConflict)
			got, err := rs.GetWatch(ctx, "w1")
			must(t, err)
			equal(t, "watch after refused update", got, ended)
		})
	})
	notFound := []struct {
		name string
		err  func() error
	}{
		{name: "get", err: func() error { _, err := rs.GetWatch(ctx, "nope"); return err }},
		{name: "update", err: func() error { return rs.UpdateWatch(ctx, newWatch("nope", "d7", time.Minute)) }},
	}
	for _, tc := range notFound {
		t.Run("not found: "+tc.name, func(t *testing.T) { wantErr(t, tc.err(), store.ErrNotFound) })
	}
}

func testDueWatches(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	ended := newWatch("ended", "d0", 0)
	ended.Ended, ended.State = true, store.WatchTripped
	for _, w := range []store.Watch{
		newWatch("a", "d1", 3*time.Minute),
		newWatch("b", "d2", time.Minute),
		newWatch("c", "d3", 2*time.Minute),
		newWatch("later", "d4", 10*time.Minute),
		ended,
	} {
		must(t, rs.CreateWatch(ctx, w))
	}
	base := baseTime()
	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{name: "earliest first, ended and later excluded", now: base.Add(5 * time.Minute), want: []string{"b", "c", "a"}},
		{name: "limit", now: base.Add(5 * time.Minute), limit: 2, want: []string{"b", "c"}},
		{name: "due at exactly now", now: base.Add(time.Minute), want: []string{"b"}},
		{name: "nothing due", now: base.Add(30 * time.Second), want: []string{}},
		{name: "all live", now: base.Add(time.Hour), limit: 10, want: []string{"b", "c", "a", "later"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rs.DueWatches(ctx, tc.now, tc.limit)
			must(t, err)
			equal(t, "due watches", ids(got, watchID), tc.want)
		})
	}
	t.Run("full watches", func(t *testing.T) {
		got, err := rs.DueWatches(ctx, base.Add(time.Minute), 0)
		must(t, err)
		equal(t, "due watches", got, []store.Watch{newWatch("b", "d2", time.Minute)})
	})
}

func testRollbackRecords(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	r1 := newRollback("r1", "acme/api", store.RollbackPending, 0)
	got, created, err := rs.CreateRollback(ctx, r1)
	must(t, err)
	if !created {
		t.Fatal("first rollback not created")
	}
	equal(t, "created rollback", got, r1)
	t.Run("round trip", func(t *testing.T) {
		got, err := rs.GetRollback(ctx, "r1")
		must(t, err)
		equal(t, "rollback", got, r1)
	})
	t.Run("same id conflicts", func(t *testing.T) {
		_, _, err := rs.CreateRollback(ctx, newRollback("r1", "acme/other", store.RollbackPending, 0))
		wantErr(t, err, store.ErrConflict)
	})
	t.Run("no key is invalid", func(t *testing.T) {
		r := newRollback("rx", "acme/api", store.RollbackPending, 0)
		r.Key = ""
		_, _, err := rs.CreateRollback(ctx, r)
		wantKind(t, err, apperr.KindInvalid)
	})
	dedup := func(t *testing.T, r store.Rollback, want store.Rollback) {
		t.Helper()
		got, created, err := rs.CreateRollback(ctx, r)
		must(t, err)
		if created {
			t.Fatalf("rollback %s created while %s is active", r.ID, want.ID)
		}
		equal(t, "active rollback", got, want)
		if _, err := rs.GetRollback(ctx, r.ID); err == nil {
			t.Fatalf("de-duplicated rollback %s was stored", r.ID)
		}
	}
	t.Run("de-duplicated while pending", func(t *testing.T) {
		dedup(t, newRollback("r2", "acme/api", store.RollbackPending, time.Minute), r1)
	})
	t.Run("de-duplicated whatever the new one's state", func(t *testing.T) {
		dedup(t, newRollback("r2", "acme/api", store.RollbackFailed, time.Minute), r1)
	})
	t.Run("other key is independent", func(t *testing.T) {
		other := newRollback("o1", "acme/web", store.RollbackPending, 0)
		_, created, err := rs.CreateRollback(ctx, other)
		must(t, err)
		if !created {
			t.Fatal("rollback of another target not created")
		}
	})
	at := baseTime().Add(5 * time.Minute)
	running := r1
	running.State, running.UpdatedAt = store.RollbackRunning, at
	t.Run("claim", func(t *testing.T) {
		got, claimed, err := rs.ClaimRollback(ctx, "r1", at)
		must(t, err)
		if !claimed {
			t.Fatal("pending rollback not claimed")
		}
		equal(t, "claimed rollback", got, running)
		stored, err := rs.GetRollback(ctx, "r1")
		must(t, err)
		equal(t, "stored claimed rollback", stored, running)
	})
	t.Run("claim again", func(t *testing.T) {
		got, claimed, err := rs.ClaimRollback(ctx, "r1", at.Add(time.Minute))
		must(t, err)
		if claimed {
			t.Fatal("running rollback claimed again")
		}
		equal(t, "running rollback", got, running)
	})
	t.Run("de-duplicated while running", func(t *testing.T) {
		dedup(t, newRollback("r3", "acme/api", store.RollbackPending, 2*time.Minute), running)
	})
	done := running
	done.State, done.Error, done.Attempts, done.UpdatedAt = store.RollbackFailed, "provider said no", 3, at.Add(time.Minute)
	t.Run("update", func(t *testing.T) {
		must(t, rs.UpdateRollback(ctx, done))
		got, err := rs.GetRollback(ctx, "r1")
		must(t, err)
		equal(t, "updated rollback", got, done)
	})
	t.Run("claim finished", func(t *testing.T) {
		got, claimed, err := rs.ClaimRollback(ctx, "r1", at.Add(2*time.Minute))
		must(t, err)
		if claimed {
			t.Fatal("finished rollback claimed")
		}
		equal(t, "finished rollback", got, done)
	})
	r4 := newRollback("r4", "acme/api", store.RollbackPending, 3*time.Minute)
	t.Run("allowed again once finished", func(t *testing.T) {
		got, created, err := rs.CreateRollback(ctx, r4)
		must(t, err)
		if !created {
			t.Fatal("rollback not created after the active one finished")
		}
		equal(t, "new rollback", got, r4)
	})
	t.Run("reviving a finished one while another is active conflicts", func(t *testing.T) {
		wantErr(t, rs.UpdateRollback(ctx, running), store.ErrConflict)
		got, err := rs.GetRollback(ctx, "r1")
		must(t, err)
		equal(t, "rollback after refused update", got, done)
	})
	notFound := []struct {
		name string
		err  func() error
	}{
		{name: "get", err: func() error { _, err := rs.GetRollback(ctx, "nope"); return err }},
		{name: "claim", err: func() error { _, _, err := rs.ClaimRollback(ctx, "nope", at); return err }},
		{name: "update", err: func() error {
			return rs.UpdateRollback(ctx, newRollback("nope", "acme/none", store.RollbackFailed, 0))
		}},
	}
	for _, tc := range notFound {
		t.Run("not found: "+tc.name, func(t *testing.T) { wantErr(t, tc.err(), store.ErrNotFound) })
	}
}

func testPendingRollbacks(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	for _, r := range []store.Rollback{
		newRollback("p1", "acme/one", store.RollbackPending, 3*time.Minute),
		newRollback("p2", "acme/two", store.RollbackPending, time.Minute),
		newRollback("p3", "acme/three", store.RollbackPending, 2*time.Minute),
		newRollback("claimed", "acme/four", store.RollbackPending, 0),
		newRollback("done", "acme/five", store.RollbackSucceeded, 0),
	} {
		if _, created, err := rs.CreateRollback(ctx, r); err != nil || !created {
			t.Fatalf("create %s: created %v, %v", r.ID, created, err)
		}
	}
	if _, claimed, err := rs.ClaimRollback(ctx, "claimed", baseTime()); err != nil || !claimed {
		t.Fatalf("claim: claimed %v, %v", claimed, err)
	}
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{name: "oldest first, others excluded", want: []string{"p2", "p3", "p1"}},
		{name: "limit", limit: 2, want: []string{"p2", "p3"}},
		{name: "limit above count", limit: 10, want: []string{"p2", "p3", "p1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rs.PendingRollbacks(ctx, tc.limit)
			must(t, err)
			equal(t, "pending rollbacks", ids(got, rollbackID), tc.want)
		})
	}
	t.Run("full rollbacks", func(t *testing.T) {
		got, err := rs.PendingRollbacks(ctx, 1)
		must(t, err)
		equal(t, "pending rollbacks", got, []store.Rollback{newRollback("p2", "acme/two", store.RollbackPending, time.Minute)})
	})
}

func testListRollbacks(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	got, err := rs.ListRollbacks(ctx, 0)
	must(t, err)
	equal(t, "rollbacks of an empty store", ids(got, rollbackID), []string{})
	for _, r := range []store.Rollback{
		newRollback("old", "acme/one", store.RollbackSucceeded, time.Minute),
		newRollback("new", "acme/two", store.RollbackPending, 3*time.Minute),
		newRollback("failed", "acme/three", store.RollbackFailed, 2*time.Minute),
		newRollback("same-time-b", "acme/four", store.RollbackSucceeded, 0),
		newRollback("same-time-a", "acme/five", store.RollbackSucceeded, 0),
	} {
		if _, created, err := rs.CreateRollback(ctx, r); err != nil || !created {
			t.Fatalf("create %s: created %v, %v", r.ID, created, err)
		}
	}
	if _, claimed, err := rs.ClaimRollback(ctx, "new", baseTime()); err != nil || !claimed {
		t.Fatalf("claim: claimed %v, %v", claimed, err)
	}
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{name: "newest first, every state", want: []string{"new", "failed", "old", "same-time-b", "same-time-a"}},
		{name: "limit", limit: 2, want: []string{"new", "failed"}},
		{name: "limit above count", limit: 10, want: []string{"new", "failed", "old", "same-time-b", "same-time-a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rs.ListRollbacks(ctx, tc.limit)
			must(t, err)
			equal(t, "rollbacks", ids(got, rollbackID), tc.want)
		})
	}
	t.Run("full rollbacks", func(t *testing.T) {
		got, err := rs.ListRollbacks(ctx, 1)
		must(t, err)
		if len(got) != 1 || got[0].State != store.RollbackRunning || got[0].Target.Repo != "acme/two" {
			t.Fatalf("newest rollback = %+v, want new, running, of acme/two", got)
		}
	})
}

func testRollbacksConcurrent(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	const n = 10
	t.Run("one create per key", func(t *testing.T) {
		oneWinner(t, n, "rollbacks created", func(i int) (string, bool, error) {
			r, ok, err := rs.CreateRollback(ctx, newRollback(fmt.Sprintf("c%d", i), "acme/race", store.RollbackPending, 0))
			return r.ID, ok, err
		})
	})
	t.Run("one claim", func(t *testing.T) {
		r := newRollback("claim-race", "acme/claim", store.RollbackPending, 0)
		if _, created, err := rs.CreateRollback(ctx, r); err != nil || !created {
			t.Fatalf("create: created %v, %v", created, err)
		}
		var claimed atomic.Int32
		errs := make([]error, n)
		states := make([]store.RollbackState, n)
		concurrently(n, func(i int) {
			got, ok, err := rs.ClaimRollback(ctx, r.ID, baseTime().Add(time.Duration(i)*time.Second))
			errs[i], states[i] = err, got.State
			if ok {
				claimed.Add(1)
			}
		})
		for i, err := range errs {
			must(t, err)
			if states[i] != store.RollbackRunning {
				t.Fatalf("claimer %d saw state %s, want running", i, states[i])
			}
		}
		if c := claimed.Load(); c != 1 {
			t.Fatalf("%d claims won, want 1", c)
		}
		stored, err := rs.GetRollback(ctx, r.ID)
		must(t, err)
		if stored.State != store.RollbackRunning {
			t.Fatalf("stored state %s, want running", stored.State)
		}
	})
}

// testRollbacksInTx checks the methods work on a transaction's Queries and
// that de-duplication and conflicts leave the transaction usable.
func testRollbacksInTx(t *testing.T, s suite) {
	st := s.open(t)
	ctx := t.Context()
	r1 := newRollback("t1", "acme/tx", store.RollbackPending, 0)
	must(t, st.InTx(ctx, func(ctx context.Context, rq store.Queries) error {
		if _, created, err := rq.CreateRollback(ctx, r1); err != nil || !created {
			return fmt.Errorf("create: created %v, %w", created, err)
		}
		got, created, err := rq.CreateRollback(ctx, newRollback("t2", "acme/tx", store.RollbackPending, 0))
		if err != nil || created || got.ID != "t1" {
			return fmt.Errorf("de-duplicate: got %s, created %v, %w", got.ID, created, err)
		}
		if _, _, err := rq.CreateRollback(ctx, newRollback("t1", "acme/tx2", store.RollbackPending, 0)); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("same id: %w, want a conflict", err)
		}
		if err := rq.CreateWatch(ctx, newWatch("tw", "td", time.Minute)); err != nil {
			return err
		}
		if err := rq.CreateWatch(ctx, newWatch("tw2", "td", time.Minute)); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("second live watch: %w, want a conflict", err)
		}
		if _, _, err := rq.ClaimRollback(ctx, "nope", baseTime()); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("claim missing: %w, want not found", err)
		}
		if _, claimed, err := rq.ClaimRollback(ctx, "t1", baseTime()); err != nil || !claimed {
			return fmt.Errorf("claim: claimed %v, %w", claimed, err)
		}
		return nil
	}))
	rs := st
	got, err := rs.GetRollback(ctx, "t1")
	must(t, err)
	if got.State != store.RollbackRunning {
		t.Fatalf("committed rollback state %s, want running", got.State)
	}
	_, err = rs.GetWatch(ctx, "tw")
	must(t, err)
}

// oneWinner runs n concurrent calls of fn (which returns the id it got and
// whether it created it) and checks that they all succeed, exactly one
// created, and all got the same id.
func oneWinner(t *testing.T, n int, what string, fn func(i int) (id string, created bool, err error)) {
	t.Helper()
	var winners atomic.Int32
	got := make([]string, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		id, ok, err := fn(i)
		got[i], errs[i] = id, err
		if ok {
			winners.Add(1)
		}
	})
	for _, err := range errs {
		must(t, err)
	}
	if c := winners.Load(); c != 1 {
		t.Fatalf("%d %s, want 1", c, what)
	}
	for i, id := range got {
		if id != got[0] {
			t.Fatalf("caller %d got %s, caller 0 got %s", i, id, got[0])
		}
	}
}
