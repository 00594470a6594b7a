package policy

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// policyFS is a one-module set whose decision is body.
func policyFS(body string) fstest.MapFS {
	return fstest.MapFS{"p.rego": {Data: []byte("package agentgate.admission\n\n" + body + "\n")}}
}

func TestEvaluateRejectsMalformedDecisions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, policy, wantLoad, wantEval string
	}{
		{
			name:     "decision undefined for some inputs",
			policy:   `decision := {"allow": true, "deny": [], "quotas": []} if input.agent == null`,
			wantEval: "undefined",
		},
		{
			name:     "no decision rule",
			policy:   `allow := true`,
			wantLoad: "no rule defines",
		},
		{
			name:     "decision is not an object",
			policy:   `decision := true`,
			wantLoad: "not an object",
		},
		{
			name:     "allow is missing",
			policy:   `decision := {"deny": []}`,
			wantLoad: "allow is missing",
		},
		{
			name: "rate quota without window for agents",
			policy: `decision := {"allow": true, "deny": [], "quotas": quotas}

quotas := [{"name": "builds_per_hour", "limit": 20}] if input.agent != null

else := []`,
			wantEval: "needs a positive window",
		},
		{
			name: "unknown enforcement in a reason",
			policy: `decision := {"allow": false, "deny": deny, "quotas": []}

deny := [{"rule": "r", "message": "m", "enforcement": "maybe"}] if input.agent != null

else := []`,
			wantEval: "not enforce, warn or dryrun",
		},
		{
			name: "limit is not a number",
			policy: `decision := {"allow": true, "deny": [], "quotas": quotas}

quotas := [{"name": "q", "limit": "lots", "window": "1h"}] if input.agent != null

else := []`,
			wantEval: "decision:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(ctx, Options{FS: policyFS(tt.policy)})
			if tt.wantLoad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantLoad) {
					t.Fatalf("New: err = %v, want one containing %q", err, tt.wantLoad)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			_, err = e.Evaluate(ctx, agentInput(testAgent(), testEvent()))
			if err == nil || !strings.Contains(err.Error(), tt.wantEval) {
				t.Fatalf("Evaluate: err = %v, want one containing %q", err, tt.wantEval)
			}
		})
	}
}

func TestEvaluateStringReasons(t *testing.T) {
	// A policy may deny with plain strings; they read as enforced reasons of
	// rule "policy".
	e, err := New(context.Background(), Options{FS: policyFS(`decision := {"allow": false, "deny": ["no agents today"], "quotas": [], "require_approval": {"reason": "r", "approvers": ["U012ABC"], "ttl": 60}}`)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Evaluate(context.Background(), agentInput(testAgent(), testEvent()))
	if err != nil {
		t.Fatal(err)
	}
	want := Reason{Rule: "policy", Message: "no agents today", Enforcement: Enforce}
	if len(res.Decision.Deny) != 1 || res.Decision.Deny[0] != want {
		t.Errorf("deny = %+v, want %+v", res.Decision.Deny, want)
	}
	if a := res.Decision.RequireApproval; a == nil || a.TTL != Duration(time.Minute) {
		t.Errorf("require_approval = %+v, want a 1m ttl", a)
	}
}

func TestEvaluateCancelled(t *testing.T) {
	e := builtinEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Evaluate(ctx, agentInput(testAgent(), testEvent())); err == nil {
		t.Error("Evaluate with a cancelled context succeeded")
	}
	if _, err := e.Evaluate(context.Background(), agentInput(testAgent(), testEvent())); err != nil {
		t.Errorf("Evaluate after a cancelled evaluation: %v", err)
	}
}
