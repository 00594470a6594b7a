package gate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// TestResubmittedChangeUsesItsApproval follows a change that cannot be held
// (a Kubernetes admission request) through refusals, an approval, its one
// use, a rejection and the windows in which they count.
func TestResubmittedChangeUsesItsApproval(t *testing.T) {
	f := newFixture(t)
	f.agent(t, "bot")
	ctx := context.Background()
	clk := &testClock{now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	needApproval := policy.Decision{Allow: true, RequireApproval: &policy.ApprovalRequirement{Reason: "production workflow",
		Approvers: []string{"role:admin"}, TTL: policy.Duration(time.Hour)}}
	g := gate.New(gate.Options{Store: f.store, Identify: f.reg, Policy: stubEvaluator{d: needApproval}, Killer: f.reg,
		Failure: config.Default().Failure, Now: clk.Now})
	overQuota := needApproval
	overQuota.Quotas = []policy.QuotaSpec{{Name: "concurrent_workflows", Kind: policy.QuotaConcurrency, Limit: 0, Key: "prod/etl-1", TTL: policy.Duration(time.Hour)}}
	gOverQuota := gate.New(gate.Options{Store: f.store, Identify: f.reg, Policy: stubEvaluator{d: overQuota}, Killer: f.reg,
		Failure: config.Default().Failure, Now: clk.Now})

	ev := func(sha string, resubmits bool) event.Event {
		return event.Event{Provider: "argo", Kind: event.KindWorkflow, Action: "create", Phase: event.PhaseStart, Repo: "prod/etl-",
			SHA: sha, Environment: "production", Namespace: "prod", Principal: "github:bot[bot]", Resubmits: resubmits}
	}
	decide := func(g *gate.Gate, e event.Event) gate.Result {
		t.Helper()
		res, err := g.Decide(ctx, gate.Request{Event: e})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	resolve := func(id string, state store.ApprovalState, note string) {
		t.Helper()
		if _, err := f.store.ResolveApproval(ctx, id, state, "alice", note, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		t.Helper()
		list, err := f.store.ListApprovals(ctx, store.ApprovalFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	first := decide(g, ev("spec-1", true))
	if first.Effective != gate.ApprovalRequired || first.Approval == nil {
		t.Fatalf("first submission: %+v", first)
	}
	a := first.Approval.ID
	again := decide(g, ev("spec-1", true))
	if again.Effective != gate.ApprovalRequired || again.Approval.ID != a || count() != 1 {
		t.Fatalf("resubmission while pending: %+v (%d approvals), want approval %s again", again, count(), a)
	}
	other := decide(g, ev("spec-2", true))
	if other.Approval == nil || other.Approval.ID == a || count() != 2 {
		t.Fatalf("another spec shares the approval: %+v", other)
	}

	resolve(a, store.ApprovalApproved, "")
	clk.advance(time.Minute)
	// Approved but refused by a quota: the approval is not spent.
	if res := decide(gOverQuota, ev("spec-1", true)); res.Effective != gate.Deny || !strings.Contains(reasons(res), "concurrent_workflows") ||
		strings.Contains(warnings(res), "approved by") || res.Approval != nil {
		t.Fatalf("approved but over quota: %+v", res)
	}
	admitted := decide(g, ev("spec-1", true))
	if admitted.Effective != gate.Allow || admitted.Approval == nil || admitted.Approval.ID != a || !strings.Contains(warnings(admitted), "approved by alice") {
		t.Fatalf("resubmission after approval: %+v", admitted)
	}
	stored, err := f.store.GetApproval(ctx, a)
	if err != nil || stored.UsedAt == nil || stored.UsedBy != admitted.DecisionID {
		t.Fatalf("approval after use: %+v %v", stored, err)
	}
	recs := auditRecords(t, f.store, "decision")
	if last := recs[len(recs)-1]; last.Approver != "alice" || last.ApprovalID != a || last.Decision.Outcome != "allow" {
		t.Fatalf("audit of the admitted resubmission: %+v", last)
	}
	// One approval admits one submission.
	next := decide(g, ev("spec-1", true))
	if next.Effective != gate.ApprovalRequired || next.Approval.ID == a {
		t.Fatalf("second resubmission after the approval was used: %+v", next)
	}

	resolve(next.Approval.ID, store.ApprovalRejected, "not during the freeze")
	refused := decide(g, ev("spec-1", true))
	if refused.Effective != gate.Deny || !strings.Contains(reasons(refused), "not during the freeze") || count() != 3 {
		t.Fatalf("resubmission after a rejection: %+v (%d approvals)", refused, count())
	}
	// A rejection counts for as long as the approval was open (1h).
	clk.advance(time.Hour + time.Second)
	if res := decide(g, ev("spec-1", true)); res.Effective != gate.ApprovalRequired || count() != 4 {
		t.Fatalf("resubmission after the rejection lapsed: %+v (%d approvals)", res, count())
	}
	// The spec-2 approval expired unresolved: a new one is asked for.
	if res := decide(g, ev("spec-2", true)); res.Effective != gate.ApprovalRequired || res.Approval.ID == other.Approval.ID {
		t.Fatalf("resubmission after expiry: %+v", res)
	}
	// Events that can be held ask every time (their approval releases them).
	n := count()
	decide(g, ev("spec-3", false))
	decide(g, ev("spec-3", false))
	if count() != n+2 {
		t.Fatalf("held events share approvals: %d, want %d", count(), n+2)
	}
}

func reasons(r gate.Result) string {
	var b strings.Builder
	for _, x := range r.Reasons {
		b.WriteString(x.String() + "\n")
	}
	return b.String()
}

func warnings(r gate.Result) string {
	var b strings.Builder
	for _, x := range r.Warnings {
		b.WriteString(x.String() + "\n")
	}
	return b.String()
}
