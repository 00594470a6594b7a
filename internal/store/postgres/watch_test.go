package postgres_test

import (
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

// seenWithin is how soon a replica must see another's change to agents or
// kill switches: well under the registry cache's five-second bound, so
// that only the watch can explain it.
const seenWithin = 2 * time.Second

// TestRegistryChangesReachOtherReplicas: a kill switch engaged and an agent
// suspended through one replica stop the agent on another replica that
// had just answered from its cache, also after the other replica's watch
// connection was cut.
func TestRegistryChangesReachOtherReplicas(t *testing.T) {
	dsn := newSchema(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	agent := agents.Agent{ID: "id-runaway", Name: "runaway", Type: agents.TypeCoding, Owner: "team-x",
		Tier: agents.TierNew, State: agents.StateActive, Principals: []string{"github:runaway[bot]"},
		CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if err := b.CreateAgent(ctx, agent); err != nil {
		t.Fatal(err)
	}
	waitLive(t, a)
	stopped := func() bool {
		got, err := a.AgentByPrincipal(ctx, "github:runaway[bot]")
		if err != nil {
			t.Fatal(err)
		}
		_, kerr := a.MatchKillSwitch(ctx, agent.ID, agent.Owner)
		return got.State != agents.StateActive && kerr == nil
	}
	free := func() bool {
		got, err := a.AgentByPrincipal(ctx, "github:runaway[bot]")
		if err != nil {
			t.Fatal(err)
		}
		_, kerr := a.MatchKillSwitch(ctx, agent.ID, agent.Owner)
		return got.State == agents.StateActive && kerr != nil
	}
	if !free() {
		t.Fatal("the agent is stopped before anything stopped it")
	}

	ks, _, err := b.EngageKillSwitch(ctx, store.KillSwitch{Scope: store.ScopeAgent, Target: agent.ID, Reason: "runaway",
		Source: "manual", EngagedBy: "sre", EngagedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	setState(t, b, agent.ID, agents.StateKilled)
	within(t, "the kill on the other replica", stopped)

	// Cut the watch: until it listens again, the replica must not answer
	// from what it kept.
	if _, err := a.DB().ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'agentgate-registry-watch' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReleaseKillSwitch(ctx, ks.ID, "sre", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	setState(t, b, agent.ID, agents.StateActive)
	within(t, "the release while the watch was cut", free)

	waitLive(t, a)
	if _, _, err := b.EngageKillSwitch(ctx, store.KillSwitch{Scope: store.ScopeAgent, Target: agent.ID, Reason: "again",
		Source: "manual", EngagedBy: "sre", EngagedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	setState(t, b, agent.ID, agents.StateKilled)
	within(t, "the kill after the watch resumed", stopped)
}

func setState(t *testing.T, s *sqlstore.Store, id string, state agents.State) {
	t.Helper()
	a, err := s.GetAgent(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	a.State = state
	if err := s.UpdateAgent(t.Context(), a); err != nil {
		t.Fatal(err)
	}
}

func waitLive(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !s.RegistryCacheLive() {
		if time.Now().After(deadline) {
			t.Fatal("the registry watch did not start listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(seenWithin)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not seen within %s", what, seenWithin)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
