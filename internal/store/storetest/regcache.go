package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
)

// outsideChangeWithin bounds how long a change made outside the store (by
// another process) may stay unseen: the backends that cache the registry
// ask again after five seconds at most.
const outsideChangeWithin = 7 * time.Second

// testRegistryReads checks that the answers every decision asks for (the
// agent of a principal, the kill switch that stops an agent) follow every
// change, however often they were asked before: a backend that keeps them
// must forget them in time.
func testRegistryReads(t *testing.T, s suite) {
	t.Run("an agent's changes are seen by the next lookup", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		_, err := st.AgentByPrincipal(ctx, "github:shifty")
		wantErr(t, err, store.ErrNotFound)
		a := createAgent(t, st, newAgent("shifty", "github:shifty"))
		got, err := st.AgentByPrincipal(ctx, "github:shifty")
		must(t, err)
		equal(t, "state after creation", got.State, agents.StateActive)

		a.State, a.Principals = agents.StateSuspended, []string{"github:shifty-2"}
		must(t, st.UpdateAgent(ctx, a))
		_, err = st.AgentByPrincipal(ctx, "github:shifty")
		wantErr(t, err, store.ErrNotFound)
		got, err = st.AgentByPrincipal(ctx, "github:shifty-2")
		must(t, err)
		equal(t, "state after suspension", got.State, agents.StateSuspended)
	})

	t.Run("a change in a transaction is seen once it commits, a rolled-back one never", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		a := createAgent(t, st, newAgent("tx", "github:tx"))
		_, err := st.AgentByPrincipal(ctx, "github:tx")
		must(t, err)
		rolledBack := errors.New("roll back")
		err = st.InTx(ctx, func(ctx context.Context, q store.Queries) error {
			b := a
			b.State = agents.StateKilled
			if err := q.UpdateAgent(ctx, b); err != nil {
				return err
			}
			return rolledBack
		})
		wantErr(t, err, rolledBack)
		got, err := st.AgentByPrincipal(ctx, "github:tx")
		must(t, err)
		equal(t, "state after a rolled-back kill", got.State, agents.StateActive)
		must(t, st.InSharedTx(ctx, func(ctx context.Context, q store.Queries) error {
			b := a
			b.State = agents.StateKilled
			return q.UpdateAgent(ctx, b)
		}))
		got, err = st.AgentByPrincipal(ctx, "github:tx")
		must(t, err)
		equal(t, "state after a committed kill", got.State, agents.StateKilled)
	})

	t.Run("kill switches engaged and released are seen by the next match", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		for _, k := range []store.KillSwitch{
			{Scope: store.ScopeAgent, Target: "id-x"},
			{Scope: store.ScopeOwner, Target: "team-x"},
			{Scope: store.ScopeGlobal},
		} {
			_, err := st.MatchKillSwitch(ctx, "id-x", "team-x")
			wantErr(t, err, store.ErrNotFound)
			k.Reason, k.Source, k.EngagedBy, k.EngagedAt = "test", "manual", "sre", baseTime()
			stored, _, err := st.EngageKillSwitch(ctx, k)
			must(t, err)
			got, err := st.MatchKillSwitch(ctx, "id-x", "team-x")
			must(t, err)
			equal(t, "matched switch", got.ID, stored.ID)
			_, err = st.ReleaseKillSwitch(ctx, stored.ID, "sre", baseTime().Add(time.Minute))
			must(t, err)
		}
		_, err := st.MatchKillSwitch(ctx, "id-x", "team-x")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("changing an answer does not change the next", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		createAgent(t, st, newAgent("owned", "github:owned"))
		got, err := st.AgentByPrincipal(ctx, "github:owned")
		must(t, err)
		got.Environments[0], got.Capabilities = "production", append(got.Capabilities[:0], "deploy:production")
		again, err := st.AgentByPrincipal(ctx, "github:owned")
		must(t, err)
		equal(t, "environments", again.Environments, []string{"staging"})
		equal(t, "capabilities", again.Capabilities, newAgent("owned").Capabilities)
	})

	t.Run("a change made outside the store is seen in time", func(t *testing.T) {
		if s.opts.Exec == nil {
			t.Skip("no raw SQL access to this backend")
		}
		st := s.open(t)
		ctx := t.Context()
		createAgent(t, st, newAgent("elsewhere", "github:elsewhere"))
		_, err := st.AgentByPrincipal(ctx, "github:elsewhere")
		must(t, err)
		_, err = st.MatchKillSwitch(ctx, "id-elsewhere", "team-elsewhere")
		wantErr(t, err, store.ErrNotFound)
		must(t, s.opts.Exec(st, `UPDATE agents SET state = 'killed' WHERE id = $1`, "id-elsewhere"))
		must(t, s.opts.Exec(st, `INSERT INTO kill_switches (id, scope, target, reason, source, engaged_by, engaged_at_us, released_by, released_at_us)
			VALUES ('k-elsewhere', 'agent', 'id-elsewhere', 'test', 'manual', 'sre', 1, '', NULL)`))
		deadline := time.Now().Add(outsideChangeWithin)
		for {
			a, aerr := st.AgentByPrincipal(ctx, "github:elsewhere")
			_, kerr := st.MatchKillSwitch(ctx, "id-elsewhere", "team-elsewhere")
			if aerr == nil && a.State == agents.StateKilled && kerr == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: agent %+v (%v), kill switch match %v; want both changes seen", outsideChangeWithin, a.State, aerr, kerr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
