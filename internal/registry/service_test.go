package registry_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// resolvedLog records what OnApprovalsResolved was told.
type resolvedLog struct {
	mu    sync.Mutex
	notes []string
	ids   []string
}

func (r *resolvedLog) record(_ context.Context, list []store.Approval, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, note)
	for _, a := range list {
		r.ids = append(r.ids, a.ID)
	}
}

// fullRegistry is a registry on SQLite with a clock and a record of the
// approvals it resolved.
func fullRegistry(t *testing.T) (*registry.Service, *sqlstore.Store, *clock, *resolvedLog) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "registry.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	rl := &resolvedLog{}
	r := registry.New(registry.Options{Store: st, Now: c.Now, TokenGrace: time.Hour, OnApprovalsResolved: rl.record})
	return r, st, c, rl
}

// pendingApproval stores a pending approval of agent a.
func pendingApproval(t *testing.T, st store.Store, id string, a agents.Agent, at time.Time) {
	t.Helper()
	ap := store.Approval{ID: id, State: store.ApprovalPending, AgentID: a.ID, Owner: a.Owner, Provider: "github", Repo: "acme/api",
		SHA: "abc", Environment: "production", Reason: "production needs a person", Approvers: []string{"role:admin"},
		Event:     event.Event{Provider: "github", Kind: event.KindDeploy, Action: "requested", Principal: a.Principals[0]},
		CreatedAt: at, ExpiresAt: at.Add(4 * time.Hour)}
	if err := st.CreateApproval(context.Background(), ap); err != nil {
		t.Fatal(err)
	}
}

func TestTierSteps(t *testing.T) {
	tests := []struct {
		name     string
		from     agents.Tier
		promote  bool
		to       agents.Tier
		want     agents.Tier
		wantKind apperr.Kind
	}{
		{name: "promote one step", from: agents.TierNew, promote: true, want: agents.TierEstablished},
		{name: "promote to a named tier", from: agents.TierNew, promote: true, to: agents.TierTrusted, want: agents.TierTrusted},
		{name: "demote one step", from: agents.TierTrusted, want: agents.TierEstablished},
		{name: "promote past the top", from: agents.TierTrusted, promote: true, wantKind: apperr.KindConflict},
		{name: "demote below the bottom", from: agents.TierNew, wantKind: apperr.KindConflict},
		{name: "promote downwards", from: agents.TierTrusted, promote: true, to: agents.TierNew, wantKind: apperr.KindConflict},
		{name: "an unknown tier", from: agents.TierNew, promote: true, to: "root", wantKind: apperr.KindInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, st, _, _ := fullRegistry(t)
			a, _, err := r.Provision(t.Context(), "alice", registry.Spec{Name: "bot", Type: agents.TypeCoding, Owner: "team", Tier: tc.from, Principals: []string{"github:bot[bot]"}})
			if err != nil {
				t.Fatal(err)
			}
			step := r.Demote
			if tc.promote {
				step = r.Promote
			}
			got, err := step(t.Context(), "alice", a.Name, tc.to, "track record")
			if tc.wantKind != "" {
				if apperr.KindOf(err) != tc.wantKind {
					t.Fatalf("err = %v, want %s", err, tc.wantKind)
				}
				stored, _ := st.GetAgent(t.Context(), a.ID)
				if stored.Tier != tc.from {
					t.Fatalf("a refused step changed the tier to %s", stored.Tier)
				}
				return
			}
			if err != nil || got.Tier != tc.want {
				t.Fatalf("tier %s, %v; want %s", got.Tier, err, tc.want)
			}
			recs := auditOf(t, st, audit.KindPromotion)
			if len(recs) != 1 || recs[0].Actor != "alice" || !strings.Contains(recs[0].Message, "track record") {
				t.Fatalf("promotion audit %+v", recs)
			}
		})
	}
}

func TestStateTransitions(t *testing.T) {
	r, st, c, rl := fullRegistry(t)
	ctx := t.Context()
	a := provision(t, r, "worker", "github:worker[bot]")
	pendingApproval(t, st, "ap-w", a, c.Now())
	steps := []struct {
		name      string
		do        func() (agents.Agent, error)
		wantState agents.State
		wantKind  apperr.Kind
	}{
		{"resume an active agent", func() (agents.Agent, error) { return r.Resume(ctx, "ops", a.ID, "") }, "", apperr.KindConflict},
		{"suspend", func() (agents.Agent, error) { return r.Suspend(ctx, "ops", a.ID, "noisy") }, agents.StateSuspended, ""},
		{"suspend again", func() (agents.Agent, error) { return r.Suspend(ctx, "ops", a.ID, "noisy") }, "", apperr.KindConflict},
		{"resume", func() (agents.Agent, error) { return r.Resume(ctx, "ops", a.ID, "fixed") }, agents.StateActive, ""},
		{"decommission", func() (agents.Agent, error) { return r.Decommission(ctx, "ops", a.ID, "retired") }, agents.StateDecommissioned, ""},
		{"decommission again", func() (agents.Agent, error) { return r.Decommission(ctx, "ops", a.ID, "") }, "", apperr.KindConflict},
		{"resume a decommissioned agent", func() (agents.Agent, error) { return r.Resume(ctx, "ops", a.ID, "") }, "", apperr.KindConflict},
	}
	for _, s := range steps {
		got, err := s.do()
		if s.wantKind != "" {
			if apperr.KindOf(err) != s.wantKind {
				t.Fatalf("%s: err = %v, want %s", s.name, err, s.wantKind)
			}
			continue
		}
		if err != nil || got.State != s.wantState {
			t.Fatalf("%s: state %s, %v; want %s", s.name, got.State, err, s.wantState)
		}
	}
	// A decommissioned agent's principals are free for another agent.
	if _, _, err := r.Provision(ctx, "ops", registry.Spec{Name: "worker-2", Type: agents.TypeCoding, Owner: "team", Principals: []string{"github:worker[bot]"}}); err != nil {
		t.Fatalf("principal of a decommissioned agent not freed: %v", err)
	}
	if n := len(auditOf(t, st, audit.KindAdminChange)); n < 5 {
		t.Fatalf("%d admin changes audited, want every change", n)
	}
	if len(rl.notes) != 1 || rl.notes[0] != "agent decommissioned" || len(rl.ids) != 1 || rl.ids[0] != "ap-w" {
		t.Fatalf("approvals resolved: %v %v, want ap-w cancelled by the decommission", rl.notes, rl.ids)
	}
	if ap, _ := st.GetApproval(ctx, "ap-w"); ap.State != store.ApprovalCancelled {
		t.Fatalf("the decommissioned agent's approval is %s, want cancelled", ap.State)
	}
}

func TestKillSwitches(t *testing.T) {
	r, st, c, rl := fullRegistry(t)
	ctx := t.Context()
	a := provision(t, r, "runaway", "github:runaway[bot]")
	other := provision(t, r, "calm", "github:calm[bot]")
	pendingApproval(t, st, "ap-1", a, c.Now())
	pendingApproval(t, st, "ap-2", other, c.Now())

	if _, _, err := r.Engage(ctx, "ops", registry.KillRequest{Scope: store.ScopeAgent, Target: a.Name}); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("no reason: %v, want invalid", err)
	}
	ks, created, err := r.Engage(ctx, "ops", registry.KillRequest{Scope: store.ScopeAgent, Target: a.Name, Reason: "loop", Source: registry.SourceAnomaly})
	if err != nil || !created || ks.Source != registry.SourceAnomaly || ks.EngagedBy != "ops" {
		t.Fatalf("engage: %+v, created %v, %v", ks, created, err)
	}
	again, created, err := r.Engage(ctx, "ops", registry.KillRequest{Scope: store.ScopeAgent, Target: a.ID, Reason: "loop"})
	if err != nil || created || again.ID != ks.ID {
		t.Fatalf("engage again: %+v, created %v, %v; want the same switch", again, created, err)
	}
	got, _ := st.GetAgent(ctx, a.ID)
	if got.State != agents.StateKilled {
		t.Fatalf("agent state %s after its kill switch, want killed", got.State)
	}
	ap1, _ := st.GetApproval(ctx, "ap-1")
	ap2, _ := st.GetApproval(ctx, "ap-2")
	if ap1.State != store.ApprovalRejected || ap2.State != store.ApprovalPending {
		t.Fatalf("approvals after the agent's switch: %s and %s; want its own rejected, the other's pending", ap1.State, ap2.State)
	}
	if len(rl.ids) != 1 || rl.ids[0] != "ap-1" {
		t.Fatalf("told about %v, want ap-1", rl.ids)
	}
	// Resuming a killed agent releases its switch.
	if _, err := r.Resume(ctx, "ops", a.ID, "fixed the loop"); err != nil {
		t.Fatal(err)
	}
	active, err := r.KillSwitches(ctx, true)
	if err != nil || len(active) != 0 {
		t.Fatalf("active switches after resume: %+v, %v", active, err)
	}
	// An owner's switch covers the owner's pending approvals; release needs
	// a known id.
	owner, _, err := r.Engage(ctx, "ops", registry.KillRequest{Scope: store.ScopeOwner, Target: other.Owner, Reason: "incident"})
	if err != nil {
		t.Fatal(err)
	}
	if ap2, _ := st.GetApproval(ctx, "ap-2"); ap2.State != store.ApprovalRejected {
		t.Fatalf("owner switch left %s's approval %s", other.Owner, ap2.State)
	}
	if _, err := r.Release(ctx, "ops", "nope", "done"); apperr.KindOf(err) != apperr.KindNotFound {
		t.Fatalf("release unknown: %v", err)
	}
	rel, err := r.Release(ctx, "ops", owner.ID, "over")
	if err != nil || rel.ReleasedBy != "ops" {
		t.Fatalf("release: %+v, %v", rel, err)
	}
	if n := len(auditOf(t, st, audit.KindKill)); n < 3 {
		t.Fatalf("%d kill switch records audited", n)
	}
}

func TestTokens(t *testing.T) {
	r, _, c, _ := fullRegistry(t)
	ctx := t.Context()
	a, first, err := r.Provision(ctx, "ops", registry.Spec{Name: "tok", Type: agents.TypeCoding, Owner: "team", Principals: []string{"github:tok[bot]"}})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := r.RotateToken(ctx, "ops", a.Name)
	if err != nil || rot.Token == first || !rot.OldValidUntil.Equal(c.Now().Add(time.Hour)) {
		t.Fatalf("rotation %+v, %v", rot, err)
	}
	tests := []struct {
		name  string
		token string
		after time.Duration
		ok    bool
	}{
		{"the new token", rot.Token, 0, true},
		{"the old token within the grace", first, 30 * time.Minute, true},
		{"the old token after the grace", first, 31 * time.Minute, false},
		{"the new token later", rot.Token, 0, true},
		{"no prefix", "not-a-token", 0, false},
		{"an unknown token", registry.TokenPrefix + "0000", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.add(tc.after)
			got, err := r.Authenticate(ctx, tc.token)
			if tc.ok != (err == nil) {
				t.Fatalf("Authenticate: %+v, %v; want ok %v", got, err, tc.ok)
			}
			if err != nil && (apperr.KindOf(err) != apperr.KindUnauthenticated || err.Error() != "invalid or expired token") {
				t.Fatalf("refusal %v says more than it should", err)
			}
		})
	}
	if _, err := r.Decommission(ctx, "ops", a.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, rot.Token); apperr.KindOf(err) != apperr.KindUnauthenticated {
		t.Fatalf("a decommissioned agent's token: %v", err)
	}
	if _, err := r.RotateToken(ctx, "ops", a.ID); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("rotating a decommissioned agent's token: %v", err)
	}
}

func TestIdentify(t *testing.T) {
	r, _, _, _ := fullRegistry(t)
	a := provision(t, r, "coder", "github:coder[bot]")
	tests := []struct {
		name             string
		ev               event.Event
		wantAgent        bool
		wantUnregistered bool
		wantKind         apperr.Kind
	}{
		{name: "its principal", ev: event.Event{Principal: "github:coder[bot]"}, wantAgent: true},
		{name: "another spelling of its principal", ev: event.Event{Principal: "GitHub:Coder[bot]"}, wantAgent: true},
		{name: "its principal claiming its own id", ev: event.Event{Principal: "github:coder[bot]", Trigger: event.Trigger{AgentID: a.ID}}, wantAgent: true},
		{name: "its principal claiming another agent", ev: event.Event{Principal: "github:coder[bot]", Trigger: event.Trigger{AgentID: "someone-else"}}, wantUnregistered: true},
		{name: "a person", ev: event.Event{Principal: "github:octocat"}},
		{name: "an unregistered bot", ev: event.Event{Principal: "github:stranger[bot]"}, wantUnregistered: true},
		{name: "a person claiming an agent", ev: event.Event{Principal: "github:octocat", Trigger: event.Trigger{AgentID: a.ID}}, wantUnregistered: true},
		{name: "no principal at all", ev: event.Event{Principal: "github:coder[bot]\u200b"}, wantKind: apperr.KindInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			id, err := r.Identify(t.Context(), &ev)
			if tc.wantKind != "" {
				if apperr.KindOf(err) != tc.wantKind {
					t.Fatalf("err = %v, want %s", err, tc.wantKind)
				}
				return
			}
			if err != nil || (id.Agent != nil) != tc.wantAgent || id.Unregistered != tc.wantUnregistered {
				t.Fatalf("identity %+v, %v", id, err)
			}
			if tc.wantAgent && id.Agent.ID != a.ID {
				t.Fatalf("identified as %s, want %s", id.Agent.Name, a.Name)
			}
		})
	}
}

func TestUpdateVersion(t *testing.T) {
	r, _, _, _ := fullRegistry(t)
	ctx := t.Context()
	a := provision(t, r, "ver", "github:ver[bot]")
	owner := "team-b"
	got, err := r.Update(ctx, "ops", a.ID, registry.Patch{Owner: &owner, Version: a.Version})
	if err != nil || got.Owner != owner || got.Version != a.Version+1 {
		t.Fatalf("update: %+v, %v", got, err)
	}
	if _, err := r.Update(ctx, "ops", a.ID, registry.Patch{Owner: &owner, Version: a.Version}); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("stale version: %v, want conflict", err)
	}
	bad := []string{"github:ver[bot] "}
	if _, err := r.Update(ctx, "ops", a.ID, registry.Patch{Principals: &bad}); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("a principal with a space: %v, want invalid", err)
	}
}

// auditOf returns the audit records of kind.
func auditOf(t *testing.T, st store.Store, kind audit.Kind) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := st.ScanAudit(t.Context(), 0, func(s audit.Stored) error {
		r, err := s.Decode()
		if err != nil {
			return err
		}
		if r.Kind == kind {
			out = append(out, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
