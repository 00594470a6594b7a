package app

import (
	"net/http"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
)

// otherReplicaWithin is how soon a kill switch pulled on one replica must
// stop an agent on another: well under the five seconds for which a
// replica may keep an answer, so that only the change notification
// explains it.
const otherReplicaWithin = 2 * time.Second

// TestBypassKillSwitchOnAnotherReplica: an agent keeps sending its builds
// to one replica of a PostgreSQL cluster while an SRE pulls its kill
// switch, then a global one, on another; each must stop the agent there
// within moments, although that replica had just allowed it (and kept the
// agent and its lack of a kill switch in memory). Releasing them lets it
// go on again.
func TestBypassKillSwitchOnAnotherReplica(t *testing.T) {
	a := newHarness(t, "postgres")
	b := newHarness(t, "postgres", func(c *config.Config) { c.Store.Postgres.DSN = a.app.Config.Store.Postgres.DSN })
	a.provision(codingAgent("runaway"))
	deadline := time.Now().Add(10 * time.Second)
	for !a.app.Store.RegistryCacheLive() {
		if time.Now().After(deadline) {
			t.Fatal("replica a does not watch the registry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ev := build("github:runaway[bot]")
	// The first decisions that fill replica a's memory.
	for range 3 {
		if got := a.decide(ev).Decisions[0]; got.Outcome != "allow" {
			t.Fatalf("before any kill switch: %+v", got)
		}
	}
	for _, k := range []struct {
		name string
		body map[string]any
	}{
		{"the agent's", map[string]any{"scope": "agent", "target": "runaway", "reason": "runaway builds"}},
		{"the owner's", map[string]any{"scope": "owner", "target": "alice@example.com", "reason": "owner on leave"}},
		{"the global", map[string]any{"scope": "global", "reason": "incident"}},
	} {
		var ks struct {
			ID string `json:"id"`
		}
		b.mustCall(http.MethodPost, "/api/v1/killswitches", operatorToken, k.body, http.StatusCreated, &ks)
		untilOutcome(t, a, ev, "deny", k.name+" kill switch pulled on the other replica")
		b.mustCall(http.MethodDelete, "/api/v1/killswitches/"+ks.ID, adminToken, nil, http.StatusOK, nil)
		untilOutcome(t, a, ev, "allow", k.name+" kill switch released on the other replica")
	}
}

// untilOutcome sends ev to h until it is decided want, failing after
// otherReplicaWithin.
func untilOutcome(t *testing.T, h *harness, ev map[string]any, want, what string) {
	t.Helper()
	deadline := time.Now().Add(otherReplicaWithin)
	for {
		got := h.decide(ev).Decisions[0]
		if got.Outcome == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s: %+v", what, got.Outcome, otherReplicaWithin, got.Reasons)
		}
		// Not faster: each denial counts towards the anomaly detector's
		// threshold (20 a minute for a new agent).
		time.Sleep(100 * time.Millisecond)
	}
}
