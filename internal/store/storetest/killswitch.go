package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

func killSwitch(scope store.KillScope, target string, at time.Time) store.KillSwitch {
	return store.KillSwitch{Scope: scope, Target: target, Reason: "runaway", Source: "manual", EngagedBy: "oncall", EngagedAt: at}
}

func testKillSwitches(t *testing.T, s suite) {
	t.Run("engage is idempotent per scope and target", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		first, created, err := st.EngageKillSwitch(ctx, killSwitch(store.ScopeAgent, "a1", baseTime()))
		must(t, err)
		if !created || first.ID == "" || !first.Active() {
			t.Fatalf("first engage: created=%v id=%q active=%v", created, first.ID, first.Active())
		}
		again, created, err := st.EngageKillSwitch(ctx, killSwitch(store.ScopeAgent, "a1", baseTime().Add(time.Minute)))
		must(t, err)
		if created {
			t.Fatal("second engage of an active switch created another")
		}
		equal(t, "second engage returns the first", again, first)
		other, created, err := st.EngageKillSwitch(ctx, killSwitch(store.ScopeAgent, "a2", baseTime()))
		must(t, err)
		if !created || other.ID == first.ID {
			t.Fatalf("engage for another target: created=%v id=%q", created, other.ID)
		}
		got, err := st.GetKillSwitch(ctx, first.ID)
		must(t, err)
		equal(t, "stored", got, first)
	})

	t.Run("concurrent engages store one switch", func(t *testing.T) {
		st := s.open(t)
		const n = 12
		var mu sync.Mutex
		ids := map[string]int{}
		created := 0
		concurrently(n, func(int) {
			k, c, err := st.EngageKillSwitch(t.Context(), killSwitch(store.ScopeGlobal, "", baseTime()))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("engage: %v", err)
				return
			}
			ids[k.ID]++
			if c {
				created++
			}
		})
		if created != 1 || len(ids) != 1 {
			t.Fatalf("created %d switches, callers saw ids %v; want one", created, ids)
		}
	})

	t.Run("engage keeps a given id and rejects a taken one", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		k := killSwitch(store.ScopeOwner, "team-a", baseTime())
		k.ID = "ks-1"
		got, _, err := st.EngageKillSwitch(ctx, k)
		must(t, err)
		equal(t, "id", got.ID, "ks-1")
		dup := killSwitch(store.ScopeOwner, "team-b", baseTime())
		dup.ID = "ks-1"
		_, _, err = st.EngageKillSwitch(ctx, dup)
		wantErr(t, err, store.ErrConflict)
	})

	t.Run("invalid scope or target", func(t *testing.T) {
		st := s.open(t)
		for name, k := range map[string]store.KillSwitch{
			"unknown scope":      killSwitch("galaxy", "x", baseTime()),
			"agent no target":    killSwitch(store.ScopeAgent, "", baseTime()),
			"global with target": killSwitch(store.ScopeGlobal, "x", baseTime()),
		} {
			_, _, err := st.EngageKillSwitch(t.Context(), k)
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("%s: error %v, want invalid", name, err)
			}
		}
	})

	t.Run("release", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		k, _, err := st.EngageKillSwitch(ctx, killSwitch(store.ScopeGlobal, "", baseTime()))
		must(t, err)
		at := baseTime().Add(time.Hour)
		released, err := st.ReleaseKillSwitch(ctx, k.ID, "lead", at)
		must(t, err)
		if released.Active() || !released.ReleasedAt.Equal(at) || released.ReleasedBy != "lead" {
			t.Fatalf("released switch = %+v", released)
		}
		again, err := st.ReleaseKillSwitch(ctx, k.ID, "someone-else", at.Add(time.Minute))
		wantErr(t, err, store.ErrConflict)
		equal(t, "second release returns the stored switch", again, released)
		_, err = st.ReleaseKillSwitch(ctx, "missing", "lead", at)
		wantErr(t, err, store.ErrNotFound)
		_, err = st.GetKillSwitch(ctx, "missing")
		wantErr(t, err, store.ErrNotFound)
		next, created, err := st.EngageKillSwitch(ctx, killSwitch(store.ScopeGlobal, "", at.Add(time.Hour)))
		must(t, err)
		if !created || next.ID == k.ID {
			t.Fatalf("engage after release: created=%v id=%q", created, next.ID)
		}
	})

	t.Run("list newest first", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		var ids []string
		for i, target := range []string{"a1", "a2", "a3"} {
			k, _, err := st.EngageKillSwitch(ctx, killSwitch(store.ScopeAgent, target, baseTime().Add(time.Duration(i)*time.Minute)))
			must(t, err)
			ids = append([]string{k.ID}, ids...)
		}
		_, err := st.ReleaseKillSwitch(ctx, ids[1], "lead", baseTime().Add(time.Hour))
		must(t, err)
		for _, tc := range []struct {
			name       string
			activeOnly bool
			want       []string
		}{
			{name: "all", want: ids},
			{name: "active only", activeOnly: true, want: []string{ids[0], ids[2]}},
		} {
			list, err := st.ListKillSwitches(ctx, tc.activeOnly)
			must(t, err)
			var got []string
			for _, k := range list {
				got = append(got, k.ID)
			}
			equal(t, tc.name, got, tc.want)
		}
	})

	t.Run("match", func(t *testing.T) {
		tests := []struct {
			name    string
			engage  []store.KillSwitch
			release int // index into engage to release, or -1
			want    store.KillScope
		}{
			{name: "none", release: -1},
			{name: "agent", engage: []store.KillSwitch{killSwitch(store.ScopeAgent, "a1", baseTime())}, release: -1, want: store.ScopeAgent},
			{name: "owner beats agent", engage: []store.KillSwitch{killSwitch(store.ScopeAgent, "a1", baseTime()), killSwitch(store.ScopeOwner, "team-a", baseTime())}, release: -1, want: store.ScopeOwner},
			{name: "global beats all", engage: []store.KillSwitch{killSwitch(store.ScopeAgent, "a1", baseTime()), killSwitch(store.ScopeOwner, "team-a", baseTime()), killSwitch(store.ScopeGlobal, "", baseTime())}, release: -1, want: store.ScopeGlobal},
			{name: "other agent and owner do not match", engage: []store.KillSwitch{killSwitch(store.ScopeAgent, "a2", baseTime()), killSwitch(store.ScopeOwner, "team-b", baseTime())}, release: -1},
			{name: "released does not match", engage: []store.KillSwitch{killSwitch(store.ScopeAgent, "a1", baseTime())}, release: 0},
			{name: "released global falls back to owner", engage: []store.KillSwitch{killSwitch(store.ScopeGlobal, "", baseTime()), killSwitch(store.ScopeOwner, "team-a", baseTime())}, release: 0, want: store.ScopeOwner},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				st := s.open(t)
				ctx := t.Context()
				for i, k := range tc.engage {
					k, _, err := st.EngageKillSwitch(ctx, k)
					must(t, err)
					if i == tc.release {
						_, err := st.ReleaseKillSwitch(ctx, k.ID, "lead", baseTime().Add(time.Minute))
						must(t, err)
					}
				}
				got, err := st.MatchKillSwitch(ctx, "a1", "team-a")
				if tc.want == "" {
					wantErr(t, err, store.ErrNotFound)
					return
				}
				must(t, err)
				equal(t, "matched scope", got.Scope, tc.want)
			})
		}
	})
}
