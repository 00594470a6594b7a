package gate_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
)

// TestInitiatorIsIdentifiedAndRecorded: whom an agent acts for is
// identified like the agent, shown to the policy, answered and recorded.
func TestInitiatorIsIdentifiedAndRecorded(t *testing.T) {
	tests := []struct {
		name         string
		initiator    string
		wantRecorded string
		wantDeny     bool
		wantAgent    string
	}{
		{name: "a person", initiator: "GitHub:OctoCat", wantRecorded: "github:octocat"},
		{name: "another registered agent", initiator: "github:helper[bot]", wantRecorded: "github:helper[bot]", wantAgent: "helper"},
		{name: "an unregistered bot", initiator: "github:stranger[bot]", wantRecorded: "github:stranger[bot]", wantDeny: true},
		{name: "nobody", initiator: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.agent(t, "coder")
			f.agent(t, "helper")
			g := f.gate(builtin(t))
			res, err := g.Decide(context.Background(), gate.Request{Event: event.Event{Provider: "generic", Kind: event.KindBuild,
				Repo: "acme/api", Principal: "github:coder[bot]", Initiator: tc.initiator, SessionID: "sess-42"}})
			if err != nil {
				t.Fatal(err)
			}
			if !res.ActorIsAgent || res.Agent == nil || res.Agent.Name != "coder" {
				t.Fatalf("result %+v: the actor is the agent coder", res)
			}
			gotDeny := false
			for _, r := range res.Reasons {
				gotDeny = gotDeny || r.Rule == "initiator.unregistered_agent"
			}
			if gotDeny != tc.wantDeny || (tc.wantDeny && res.Outcome != gate.Deny) {
				t.Fatalf("outcome %s reasons %+v, want initiator.unregistered_agent=%v", res.Outcome, res.Reasons, tc.wantDeny)
			}
			switch {
			case tc.initiator == "" && res.Initiator != nil:
				t.Fatalf("initiator %+v for an event naming none", res.Initiator)
			case tc.initiator != "" && (res.Initiator == nil || res.Initiator.Principal != tc.wantRecorded):
				t.Fatalf("initiator %+v, want %s", res.Initiator, tc.wantRecorded)
			case tc.wantAgent != "" && (res.Initiator.Agent == nil || res.Initiator.Agent.Name != tc.wantAgent):
				t.Fatalf("initiator %+v, want agent %s", res.Initiator, tc.wantAgent)
			}
			var rec audit.Record
			if err := f.store.ScanAudit(context.Background(), 0, func(s audit.Stored) error {
				r, err := s.Decode()
				if r.Kind == audit.KindDecision {
					rec = r
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if rec.Initiator != tc.wantRecorded || !rec.ActorIsAgent || rec.SessionID != "sess-42" {
				t.Fatalf("audit record initiator %q actor_is_agent %v session %q", rec.Initiator, rec.ActorIsAgent, rec.SessionID)
			}
		})
	}
}
