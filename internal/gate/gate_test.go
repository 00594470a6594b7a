package gate_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/policies"
)

// stubEvaluator returns a fixed decision or error; it stands in for the
// policy only where a test needs a verdict the built-in set never gives.
type stubEvaluator struct {
	d   policy.Decision
	err error
}

func (s stubEvaluator) Evaluate(context.Context, policy.Input) (policy.Result, error) {
	if s.err != nil {
		return policy.Result{}, s.err
	}
	d := s.d
	if err := d.Normalize(); err != nil {
		return policy.Result{}, err
	}
	return policy.Result{Decision: d, Revision: "sha256:stub"}, nil
}

type fixture struct {
	store store.Store
	reg   *registry.Service
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "gate.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return fixture{store: st, reg: registry.New(registry.Options{Store: st})}
}

func (f fixture) gate(ev policy.Evaluator) *gate.Gate {
	return gate.New(gate.Options{Store: f.store, Identify: f.reg, Policy: ev, Killer: f.reg,
		Revision: func() string { return "sha256:last-good" }, Failure: config.Default().Failure})
}

func (f fixture) agent(t testing.TB, name string) {
	t.Helper()
	_, _, err := f.reg.Provision(context.Background(), "test", registry.Spec{Name: name, Type: "coding", Owner: "alice",
		Environments: []string{"staging", "production", "preview-*"}, Principals: []string{"github:" + name + "[bot]"}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailModes(t *testing.T) {
	f := newFixture(t)
	f.agent(t, "bot")
	g := f.gate(stubEvaluator{err: errors.New("rego: undefined decision")})
	tests := []struct {
		name      string
		kind      event.Kind
		env       string
		want      gate.Outcome
		wantRule  string
		inReasons bool
	}{
		{name: "production deploy fails closed", kind: event.KindDeploy, env: "production", want: gate.Deny, wantRule: gate.RulePolicyFailed, inReasons: true},
		{name: "staging deploy fails closed", kind: event.KindDeploy, env: "staging", want: gate.Deny, wantRule: gate.RulePolicyFailed, inReasons: true},
		{name: "build fails open with a warning", kind: event.KindBuild, want: gate.Allow, wantRule: gate.RulePolicyFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := g.Decide(context.Background(), gate.Request{Event: event.Event{Provider: "generic", Kind: tc.kind, Environment: tc.env, Principal: "github:bot[bot]"}})
			if err != nil {
				t.Fatal(err)
			}
			list := res.Warnings
			if tc.inReasons {
				list = res.Reasons
			}
			if res.Outcome != tc.want || len(list) != 1 || list[0].Rule != tc.wantRule || res.PolicyRevision != "sha256:last-good" {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}

func TestEnforcementModes(t *testing.T) {
	deny := []policy.Reason{{Rule: "scope.environment", Message: "no", Enforcement: policy.Enforce}}
	quota := []policy.QuotaSpec{{Name: "builds_per_hour", Limit: 1, Window: policy.Duration(time.Hour)}}
	tests := []struct {
		name          string
		d             policy.Decision
		wantOutcome   gate.Outcome
		wantEffective gate.Outcome
		approval      bool
	}{
		{name: "enforce deny", d: policy.Decision{Deny: deny, Enforcement: policy.Enforce}, wantOutcome: gate.Deny, wantEffective: gate.Deny},
		{name: "warn deny is allowed", d: policy.Decision{Deny: deny, Enforcement: policy.Warn}, wantOutcome: gate.Deny, wantEffective: gate.Allow},
		{name: "dryrun deny is allowed", d: policy.Decision{Deny: deny, Enforcement: policy.DryRun}, wantOutcome: gate.Deny, wantEffective: gate.Allow},
		{name: "approval under enforce creates an approval", d: policy.Decision{Allow: true, RequireApproval: &policy.ApprovalRequirement{Reason: "prod"}}, wantOutcome: gate.ApprovalRequired, wantEffective: gate.ApprovalRequired, approval: true},
		{name: "approval under dryrun is only recorded", d: policy.Decision{Allow: true, RequireApproval: &policy.ApprovalRequirement{Reason: "prod"}, Enforcement: policy.DryRun}, wantOutcome: gate.ApprovalRequired, wantEffective: gate.Allow},
		{name: "allow without a deny list but allow false denies", d: policy.Decision{Allow: false}, wantOutcome: gate.Deny, wantEffective: gate.Deny},
		{name: "allowed with quota", d: policy.Decision{Allow: true, Quotas: quota}, wantOutcome: gate.Allow, wantEffective: gate.Allow},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			name := fmt.Sprintf("bot%d", i)
			f.agent(t, name)
			res, err := f.gate(stubEvaluator{d: tc.d}).Decide(context.Background(), gate.Request{
				Event: event.Event{Provider: "generic", Kind: event.KindDeploy, Environment: "production", Principal: "github:" + name + "[bot]"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.wantOutcome || res.Effective != tc.wantEffective || (res.Approval != nil) != tc.approval {
				t.Fatalf("result = %+v", res)
			}
			pending, err := f.store.ListApprovals(context.Background(), store.ApprovalFilter{State: store.ApprovalPending})
			if err != nil {
				t.Fatal(err)
			}
			if (len(pending) == 1) != tc.approval {
				t.Fatalf("pending approvals = %d", len(pending))
			}
		})
	}
}

func TestInvalidEventChangesNothing(t *testing.T) {
	tests := []struct {
		name    string
		ev      event.Event
		wantErr string
		// refusal: an invalid principal is an attempt to pass for someone
		// else, recorded; other invalid input leaves no trace.
		refusal bool
	}{
		{name: "unknown kind", ev: event.Event{Provider: "generic", Kind: "teleport", Principal: "github:x"}, wantErr: "event.kind"},
		{name: "principal with a trailing space", ev: event.Event{Provider: "generic", Kind: event.KindBuild, Principal: "github:x[bot] "}, wantErr: "event.principal contains a space or separator U+0020 at byte 13", refusal: true},
		{name: "principal with a zero-width space", ev: event.Event{Provider: "generic", Kind: event.KindBuild, Principal: "github:x[bot]\u200b"}, wantErr: "event.principal contains a format character U+200B", refusal: true},
		{name: "principal with a NUL", ev: event.Event{Provider: "generic\x00", Kind: event.KindBuild, Principal: "github:x[bot]\x00"}, wantErr: "event.principal contains a control character U+0000", refusal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			g := f.gate(stubEvaluator{d: policy.Decision{Allow: true}})
			_, err := g.Decide(context.Background(), gate.Request{Event: tc.ev, DeliveryID: "d1"})
			if apperr.KindOf(err) != apperr.KindInvalid || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want invalid input naming %q", err, tc.wantErr)
			}
			var recs []audit.Record
			if err := f.store.ScanAudit(context.Background(), 0, func(s audit.Stored) error {
				r, err := s.Decode()
				recs = append(recs, r)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			switch {
			case !tc.refusal && len(recs) != 0:
				t.Fatalf("audit records = %+v, want none", recs)
			case tc.refusal && (len(recs) != 1 || recs[0].Kind != audit.KindRefusal || recs[0].Decision == nil || recs[0].Decision.Outcome != string(gate.Deny)):
				t.Fatalf("audit records = %+v, want one refusal", recs)
			}
			// Nothing else was stored: the delivery id was not claimed.
			ok := event.Event{Provider: "generic", Kind: event.KindBuild, Principal: "github:octocat"}
			res, err := g.Decide(context.Background(), gate.Request{Event: ok, DeliveryID: "d1"})
			if err != nil || res.Replayed {
				t.Fatalf("the same delivery id, now valid: %+v, %v", res, err)
			}
		})
	}
}

// builtin returns the built-in policy engine.
func builtin(t testing.TB) *policy.Engine {
	t.Helper()
	eng, err := policy.New(context.Background(), policy.Options{FS: policies.FS(), Source: "built-in", SkipTests: true})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestDryRunRulesAreRecordedNotShown(t *testing.T) {
	f := newFixture(t)
	f.agent(t, "bot")
	d := policy.Decision{Allow: true, Warnings: []policy.Reason{
		{Rule: "capability", Message: "lacks build", Enforcement: policy.Warn},
		{Rule: "scope.namespace", Message: "would be refused", Enforcement: policy.DryRun},
	}}
	res, err := f.gate(stubEvaluator{d: d}).Decide(context.Background(), gate.Request{Event: event.Event{Provider: "generic", Kind: event.KindBuild, Principal: "github:bot[bot]"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Effective != gate.Allow || len(res.Warnings) != 1 || res.Warnings[0].Rule != "capability" {
		t.Fatalf("sender sees %+v", res.Warnings)
	}
	recs, err := f.store.QueryAudit(context.Background(), store.AuditQuery{Kind: audit.KindDecision})
	if err != nil {
		t.Fatal(err)
	}
	got := recs[len(recs)-1].Decision
	if len(got.DryRun) != 1 || got.DryRun[0] != "scope.namespace: would be refused" || len(got.Warnings) != 1 {
		t.Fatalf("audit decision = %+v", got)
	}
}

func TestEventsThatCannotBeHeldCreateNoApproval(t *testing.T) {
	f := newFixture(t)
	f.agent(t, "bot")
	d := policy.Decision{Allow: true, RequireApproval: &policy.ApprovalRequirement{Reason: "production needs a human"}}
	res, err := f.gate(stubEvaluator{d: d}).Decide(context.Background(), gate.Request{Event: event.Event{
		Provider: "generic", Kind: event.KindDeploy, Environment: "production", Principal: "github:bot[bot]", NoHold: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != gate.Allow || res.Approval != nil || len(res.Warnings) != 1 || res.Warnings[0].Rule != "approval" {
		t.Fatalf("result = %+v", res)
	}
	pending, _ := f.store.ListApprovals(context.Background(), store.ApprovalFilter{State: store.ApprovalPending})
	if len(pending) != 0 {
		t.Fatalf("pending approvals = %d", len(pending))
	}
}
