package gate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/replay"
)

// TestRecordedInputs: each evaluated decision keeps the input the policy
// saw and what it said, beside its audit record; a decision the policy
// could not evaluate keeps none, and a replayed delivery adds none.
func TestRecordedInputs(t *testing.T) {
	f := newFixture(t)
	f.agent(t, "bot")
	codec := &replay.Codec{}
	deny := policy.Decision{Deny: []policy.Reason{{Rule: "scope.environment", Message: "no", Enforcement: policy.Enforce}}}
	g := gate.New(gate.Options{Store: f.store, Identify: f.reg, Policy: stubEvaluator{d: deny}, Killer: f.reg, Inputs: codec,
		Revision: func() string { return "sha256:last-good" }, Failure: config.Default().Failure})
	ctx := context.Background()
	ev := event.Event{Provider: "generic", Kind: event.KindDeploy, Environment: "qa", Principal: "github:bot[bot]",
		Trigger: event.Trigger{Prompt: "ship the fix"}}
	res, err := g.Decide(ctx, gate.Request{Event: ev, DeliveryID: "d-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Decide(ctx, gate.Request{Event: ev, DeliveryID: "d-1"}); err != nil { // the same delivery again
		t.Fatal(err)
	}
	failing := gate.New(gate.Options{Store: f.store, Identify: f.reg, Policy: stubEvaluator{err: errors.New("broken")}, Killer: f.reg, Inputs: codec,
		Revision: func() string { return "sha256:last-good" }, Failure: config.Default().Failure})
	if _, err := failing.Decide(ctx, gate.Request{Event: ev}); err != nil {
		t.Fatal(err)
	}
	var got []replay.Recorded
	if err := f.store.ScanInputs(ctx, time.Time{}, time.Time{}, 0, func(seq int64, at time.Time, body []byte) error {
		r, err := codec.Decode(seq, at, body)
		got = append(got, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d inputs recorded, want the one evaluated decision's", len(got))
	}
	r := got[0]
	if r.Seq != res.AuditSeq || r.Revision != "sha256:stub" || r.Input.Agent == nil || r.Input.Agent.Name != "bot" ||
		r.Input.Event.Trigger.Prompt != "ship the fix" || r.Input.Event.Environment != "qa" ||
		r.Decision.Outcome != replay.Deny || len(r.Decision.Deny) != 1 || r.Decision.Deny[0] != "scope.environment" {
		t.Fatalf("recorded %+v", r)
	}
}
