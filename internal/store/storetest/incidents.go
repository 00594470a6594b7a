package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// incidentRollback is an automatic rollback of deployment "d2" of repo,
// triggered by source at the base time plus at.
func incidentRollback(id, repo, source string, at time.Duration) store.Rollback {
	r := newRollback(id, repo, store.RollbackPending, at)
	r.Target.Source = source
	return r
}

func testIncidents(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	base := baseTime()
	const window = 10 * time.Minute
	open := func(t *testing.T, r store.Rollback, at time.Duration) (store.Rollback, store.Incident, bool) {
		t.Helper()
		stored, inc, created, err := rs.OpenIncident(ctx, r, base.Add(at), window)
		must(t, err)
		return stored, inc, created
	}
	finish := func(t *testing.T, id string) {
		t.Helper()
		r, err := rs.GetRollback(ctx, id)
		must(t, err)
		r.State = store.RollbackSucceeded
		must(t, rs.UpdateRollback(ctx, r))
	}

	first := incidentRollback("i1", "acme/inc", store.RollbackSourceAlert, 0)
	key := store.IncidentKey(first.Target, first.FromDeploymentID)
	t.Run("the first trigger opens the incident with its rollback", func(t *testing.T) {
		stored, inc, created := open(t, first, 0)
		if !created || stored.ID != "i1" || inc.RollbackID != "i1" || inc.Triggers != 1 || !inc.Firing || inc.Key != key {
			t.Fatalf("created %v, rollback %s, incident %+v", created, stored.ID, inc)
		}
		got, err := rs.GetIncident(ctx, key)
		must(t, err)
		equal(t, "stored incident", got, inc)
	})
	t.Run("a repeat joins it, even after the rollback finished", func(t *testing.T) {
		finish(t, "i1")
		stored, inc, created := open(t, incidentRollback("i2", "acme/inc", store.RollbackSourceAlert, time.Hour), 4*time.Hour)
		if created || stored.ID != "i1" || stored.State != store.RollbackSucceeded || inc.Triggers != 2 {
			t.Fatalf("created %v, rollback %s (%s), incident %+v", created, stored.ID, stored.State, inc)
		}
		if _, err := rs.GetRollback(ctx, "i2"); !isNotFound(err) {
			t.Fatalf("the joining rollback was stored: %v", err)
		}
	})
	t.Run("a watch on the same deployment joins it", func(t *testing.T) {
		stored, inc, created := open(t, incidentRollback("i3", "acme/inc", store.RollbackSourceWatch, 4*time.Hour), 4*time.Hour+time.Minute)
		if created || stored.ID != "i1" || len(inc.Sources) != 2 || inc.Sources[1] != store.RollbackSourceWatch {
			t.Fatalf("created %v, rollback %s, incident %+v", created, stored.ID, inc)
		}
	})
	t.Run("resolved, then a flap within the window joins it", func(t *testing.T) {
		n, err := rs.ResolveIncidents(ctx, first.Target.Key(), base.Add(5*time.Hour))
		must(t, err)
		if n != 1 {
			t.Fatalf("resolved %d incidents, want 1", n)
		}
		n, err = rs.ResolveIncidents(ctx, first.Target.Key(), base.Add(5*time.Hour))
		must(t, err)
		if n != 0 {
			t.Fatalf("resolved %d incidents again, want 0", n)
		}
		inc, err := rs.GetIncident(ctx, key)
		must(t, err)
		if inc.Firing || !inc.LastAt.Equal(base.Add(5*time.Hour)) {
			t.Fatalf("resolved incident %+v", inc)
		}
		stored, inc, created := open(t, incidentRollback("i4", "acme/inc", store.RollbackSourceAlert, 5*time.Hour), 5*time.Hour+window-time.Second)
		if created || stored.ID != "i1" || !inc.Firing {
			t.Fatalf("created %v, rollback %s, incident %+v", created, stored.ID, inc)
		}
	})
	t.Run("a new incident after it recovered gets a new rollback", func(t *testing.T) {
		_, err := rs.ResolveIncidents(ctx, first.Target.Key(), base.Add(6*time.Hour))
		must(t, err)
		stored, inc, created := open(t, incidentRollback("i5", "acme/inc", store.RollbackSourceAlert, 7*time.Hour), 6*time.Hour+window)
		if !created || stored.ID != "i5" || inc.RollbackID != "i5" || inc.Triggers != 1 || !inc.OpenedAt.Equal(base.Add(6*time.Hour+window)) {
			t.Fatalf("created %v, rollback %s, incident %+v", created, stored.ID, inc)
		}
	})
	t.Run("another deployment is another incident", func(t *testing.T) {
		finish(t, "i5")
		r := incidentRollback("i6", "acme/inc", store.RollbackSourceAlert, 8*time.Hour)
		r.FromDeploymentID = "d3"
		stored, inc, created := open(t, r, 8*time.Hour)
		if !created || stored.ID != "i6" || inc.DeploymentID != "d3" {
			t.Fatalf("created %v, rollback %s, incident %+v", created, stored.ID, inc)
		}
	})
	t.Run("an incident joins the target's active rollback", func(t *testing.T) {
		manual := newRollback("m1", "acme/manual", store.RollbackPending, 0)
		manual.Target.Source = store.RollbackSourceRequest
		_, created, err := rs.CreateRollback(ctx, manual)
		must(t, err)
		if !created {
			t.Fatal("manual rollback not created")
		}
		stored, inc, created := open(t, incidentRollback("m2", "acme/manual", store.RollbackSourceAlert, 0), 0)
		if created || stored.ID != "m1" || inc.RollbackID != "m1" {
			t.Fatalf("created %v, rollback %s, incident %+v", created, stored.ID, inc)
		}
		got, err := rs.GetIncident(ctx, inc.Key)
		must(t, err)
		if got.RollbackID != "m1" {
			t.Fatalf("stored incident points at %s, want m1", got.RollbackID)
		}
	})
	t.Run("unknown incident", func(t *testing.T) {
		if _, err := rs.GetIncident(ctx, "nope"); !isNotFound(err) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
	t.Run("concurrent triggers open one incident", func(t *testing.T) {
		const n = 10
		oneWinner(t, n, "incidents opened", func(i int) (string, bool, error) {
			r, _, ok, err := rs.OpenIncident(ctx, incidentRollback(fmt.Sprintf("race%d", i), "acme/race-inc", store.RollbackSourceAlert, 0), base, window)
			return r.ID, ok, err
		})
		inc, err := rs.GetIncident(ctx, store.IncidentKey(incidentRollback("x", "acme/race-inc", "", 0).Target, "d2"))
		must(t, err)
		if inc.Triggers != n {
			t.Fatalf("incident counted %d triggers, want %d", inc.Triggers, n)
		}
	})
}

func testListWatches(t *testing.T, s suite) {
	rs := s.open(t)
	ctx := t.Context()
	must(t, rs.CreateWatch(ctx, newWatch("lw2", "ld2", 2*time.Minute)))
	must(t, rs.CreateWatch(ctx, newWatch("lw1", "ld1", time.Minute)))
	ended := newWatch("lw3", "ld3", 0)
	ended.Ended, ended.State = true, store.WatchPassed
	must(t, rs.CreateWatch(ctx, ended))
	for _, tc := range []struct {
		name  string
		live  bool
		limit int
		want  []string
	}{
		{"all", false, 0, []string{"lw3", "lw1", "lw2"}},
		{"live", true, 0, []string{"lw1", "lw2"}},
		{"limited", true, 1, []string{"lw1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rs.ListWatches(ctx, tc.live, tc.limit)
			must(t, err)
			equal(t, "watches", ids(got, watchID), tc.want)
		})
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
