package promotion

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/policies"
)

type fixture struct {
	t   *testing.T
	st  store.Store
	reg *registry.Service
	svc *Service
	now time.Time
	// announced are the proposals OnProposal was told of.
	announced []string
}

// newFixture registers pay-coder, a new coding agent, 40 days before now
// and records decisions spread over the last 30 days.
func newFixture(t *testing.T, mode Mode, decisions, denied int) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "promotion.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{t: t, st: st, now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	f.reg = registry.New(registry.Options{Store: st, Now: func() time.Time { return f.now.Add(-40 * 24 * time.Hour) }})
	a, _, err := f.reg.Provision(t.Context(), "admin", registry.Spec{Name: "pay-coder", Type: "coding", Owner: "payments@example.com",
		Capabilities: []string{"build"}, Principals: []string{"github:pay-coder[bot]"}})
	if err != nil {
		t.Fatal(err)
	}
	f.reg = registry.New(registry.Options{Store: st, Now: clock})
	for i := range decisions {
		outcome := "allow"
		if i < denied {
			outcome = "deny"
		}
		f.appendRecord(a, audit.KindDecision, outcome, time.Duration(i+1)*8*time.Hour)
	}
	eng, err := policy.New(t.Context(), policy.Options{FS: policies.FS(), SkipTests: true})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = New(Options{Store: st, Registry: f.reg, Policy: eng, Mode: mode, Now: clock,
		OnProposal: func(_ context.Context, p store.Proposal) { f.announced = append(f.announced, p.AgentName) }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) appendRecord(a agents.Agent, kind audit.Kind, outcome string, ago time.Duration) {
	f.t.Helper()
	r := &audit.Record{ID: fmt.Sprint(kind, ago, outcome), Time: f.now.Add(-ago), Kind: kind, AgentID: a.ID, AgentName: a.Name, Owner: a.Owner}
	if kind == audit.KindDecision {
		r.Decision = &audit.Decision{Outcome: outcome}
	}
	if err := f.st.AppendAudit(f.t.Context(), r); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) agent() agents.Agent {
	f.t.Helper()
	a, err := f.reg.Get(f.t.Context(), "pay-coder")
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func (f *fixture) run() Summary {
	f.t.Helper()
	sum, err := f.svc.RunOnce(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return sum
}

func (f *fixture) proposals(state store.ProposalState) []store.Proposal {
	f.t.Helper()
	list, err := f.st.ListProposals(f.t.Context(), store.ProposalFilter{State: state})
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

func (f *fixture) audit(kind audit.Kind) []audit.Record {
	f.t.Helper()
	recs, err := f.st.QueryAudit(f.t.Context(), store.AuditQuery{Kind: kind})
	if err != nil {
		f.t.Fatal(err)
	}
	return recs
}

var owner = Person{Name: "payments@example.com", Role: config.RoleOperator}

func TestRecord(t *testing.T) {
	f := newFixture(t, ModeConfirm, 80, 2)
	a := f.agent()
	f.appendRecord(a, audit.KindKill, "", 10*24*time.Hour+time.Hour)
	f.appendRecord(a, audit.KindDecision, "allow", 31*24*time.Hour) // outside the window
	f.appendRecord(a, audit.KindRollback, "", 120*24*time.Hour)     // long before the window, still the last
	r, err := f.svc.Record(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.TrackRecord{Days: 30, Decisions: 80, Allowed: 78, Denied: 2, Kills: 1, DaysSinceKill: 10, DaysSinceRollback: 120,
		DaysSinceTierChange: -1, AgeDays: 40}
	if r != want {
		t.Fatalf("record = %+v\nwant     %+v", r, want)
	}
}

func TestProposeThenConfirm(t *testing.T) {
	f := newFixture(t, ModeConfirm, 80, 2)
	if sum := f.run(); sum.Proposed != 1 || sum.Applied != 0 {
		t.Fatalf("first pass: %+v", sum)
	}
	if sum := f.run(); sum.Proposed != 0 || sum.Withdrawn != 0 {
		t.Fatalf("a second pass proposed again or withdrew: %+v", sum)
	}
	pending := f.proposals(store.ProposalPending)
	if len(pending) != 1 || pending[0].ToTier != agents.TierEstablished || len(f.announced) != 1 || f.agent().Tier != agents.TierNew {
		t.Fatalf("pending %+v, announced %v, tier %s", pending, f.announced, f.agent().Tier)
	}
	recs := f.audit(audit.KindProposal)
	if len(recs) != 1 || recs[0].Details["decisions"] != "80" || recs[0].Details["proposal_state"] != "pending" || recs[0].Actor != Actor {
		t.Fatalf("proposal audit %+v", recs)
	}
	p, err := f.svc.Confirm(t.Context(), owner, pending[0].ID, "well earned")
	if err != nil {
		t.Fatal(err)
	}
	if p.State != store.ProposalApplied || p.ResolvedBy != owner.Name || f.agent().Tier != agents.TierEstablished {
		t.Fatalf("after confirming: %+v, tier %s", p, f.agent().Tier)
	}
	if recs := f.audit(audit.KindPromotion); len(recs) != 1 || recs[0].Actor != owner.Name || !strings.Contains(recs[0].Details["reason"], pending[0].ID) {
		t.Fatalf("tier change audit %+v", recs)
	}
	if recs := f.audit(audit.KindProposal); len(recs) != 2 || recs[1].Details["proposal_state"] != "applied" || recs[1].Actor != owner.Name {
		t.Fatalf("proposal audit after confirming %+v", recs)
	}
	if _, err := f.svc.Confirm(t.Context(), owner, pending[0].ID, ""); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("confirming twice: %v", err)
	}
	// Promoted just now: the tier change restarts the clean days.
	if sum := f.run(); sum.Proposed != 0 {
		t.Fatalf("proposed again right after a promotion: %+v", sum)
	}
}

func TestAutoMode(t *testing.T) {
	f := newFixture(t, ModeAuto, 80, 2)
	if sum := f.run(); sum.Proposed != 1 || sum.Applied != 1 {
		t.Fatalf("auto pass: %+v", sum)
	}
	if f.agent().Tier != agents.TierEstablished || len(f.proposals(store.ProposalApplied)) != 1 || len(f.announced) != 0 {
		t.Fatalf("tier %s, applied %v, announced %v", f.agent().Tier, f.proposals(store.ProposalApplied), f.announced)
	}
	if recs := f.audit(audit.KindPromotion); len(recs) != 1 || recs[0].Actor != Actor {
		t.Fatalf("tier change audit %+v", recs)
	}
}

func TestNotEligible(t *testing.T) {
	for _, tc := range []struct {
		name              string
		decisions, denied int
	}{
		{name: "too few decisions", decisions: 49},
		{name: "denied too often", decisions: 80, denied: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, ModeAuto, tc.decisions, tc.denied)
			if sum := f.run(); sum.Assessed != 1 || sum.Proposed != 0 || f.agent().Tier != agents.TierNew {
				t.Fatalf("pass %+v, tier %s", sum, f.agent().Tier)
			}
		})
	}
}

func TestWithdrawal(t *testing.T) {
	t.Run("a kill switch after the proposal", func(t *testing.T) {
		f := newFixture(t, ModeConfirm, 80, 2)
		f.run()
		f.appendRecord(f.agent(), audit.KindKill, "", time.Minute)
		if sum := f.run(); sum.Withdrawn != 1 || sum.Proposed != 0 {
			t.Fatalf("pass after a kill: %+v", sum)
		}
		w := f.proposals(store.ProposalWithdrawn)
		if len(w) != 1 || !strings.Contains(w[0].Note, "no kill switch, rollback or tier change") {
			t.Fatalf("withdrawn %+v", w)
		}
	})
	t.Run("promoted by hand meanwhile", func(t *testing.T) {
		f := newFixture(t, ModeConfirm, 80, 2)
		f.run()
		id := f.proposals(store.ProposalPending)[0].ID
		if _, err := f.reg.Promote(t.Context(), "admin", "pay-coder", "", "by hand"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Confirm(t.Context(), owner, id, ""); apperr.KindOf(err) != apperr.KindConflict || !strings.Contains(err.Error(), "tier changed") {
			t.Fatalf("confirming after a manual promotion: %v", err)
		}
		if f.agent().Tier != agents.TierEstablished {
			t.Fatalf("tier %s: promoted twice or not at all", f.agent().Tier)
		}
		if w := f.proposals(store.ProposalWithdrawn); len(w) != 1 {
			t.Fatalf("withdrawn %+v", w)
		}
	})
}

// TestBypassPromotionDecisions: who may not confirm or refuse.
func TestBypassPromotionDecisions(t *testing.T) {
	f := newFixture(t, ModeConfirm, 80, 2)
	f.run()
	id := f.proposals(store.ProposalPending)[0].ID
	for _, tc := range []struct {
		name string
		who  Person
	}{
		{name: "the agent itself, named as its owner", who: Person{Name: "payments@example.com", Role: config.RoleAdmin, Agent: true}},
		{name: "an operator who does not own it", who: Person{Name: "ops@example.com", Role: config.RoleOperator}},
		{name: "the owner with a viewer token", who: Person{Name: "payments@example.com", Role: config.RoleViewer}},
		{name: "the owner's name with a space", who: Person{Name: "payments@example.com ", Role: config.RoleOperator}},
		{name: "the owner's domain", who: Person{Name: "example.com", Role: config.RoleOperator}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.svc.Confirm(t.Context(), tc.who, id, ""); apperr.KindOf(err) != apperr.KindForbidden {
				t.Fatalf("confirm: %v, want forbidden", err)
			}
			if _, err := f.svc.Refuse(t.Context(), tc.who, id, "no"); apperr.KindOf(err) != apperr.KindForbidden {
				t.Fatalf("refuse: %v, want forbidden", err)
			}
		})
	}
	if f.agent().Tier != agents.TierNew || len(f.proposals(store.ProposalPending)) != 1 {
		t.Fatal("a refused attempt changed something")
	}
	if _, err := f.svc.Refuse(t.Context(), Person{Name: "root", Role: config.RoleAdmin}, id, " "); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("refusing without a reason: %v", err)
	}
	p, err := f.svc.Refuse(t.Context(), Person{Name: "Payments@Example.com", Role: config.RoleOperator}, id, "not before the audit")
	if err != nil || p.State != store.ProposalRefused {
		t.Fatalf("the owner (another case) refusing: %+v, %v", p, err)
	}
	if _, err := f.svc.Confirm(t.Context(), Person{Name: "root", Role: config.RoleAdmin}, id, ""); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("confirming a refused proposal: %v", err)
	}
	if _, err := f.svc.Confirm(t.Context(), Person{Name: "root", Role: config.RoleAdmin}, "nope", ""); apperr.KindOf(err) != apperr.KindNotFound {
		t.Fatalf("confirming an unknown proposal: %v", err)
	}
}

func TestNoPromotionRules(t *testing.T) {
	f := newFixture(t, ModeAuto, 80, 2)
	f.svc.o.Policy = assessorFunc(func(context.Context, policy.PromotionInput) (policy.Assessment, error) {
		return policy.Assessment{}, policy.ErrNoPromotionRules
	})
	if sum, err := f.svc.RunOnce(t.Context()); err != nil || sum.Assessed != 0 {
		t.Fatalf("pass with no promotion rules: %+v, %v", sum, err)
	}
}

type assessorFunc func(context.Context, policy.PromotionInput) (policy.Assessment, error)

func (f assessorFunc) Assess(ctx context.Context, in policy.PromotionInput) (policy.Assessment, error) {
	return f(ctx, in)
}
