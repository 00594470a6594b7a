package registry_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

// payments are the agents of a team's file.
func payments() []registry.Spec {
	return []registry.Spec{
		{Name: "pay-coder", Type: agents.TypeCoding, Owner: "payments@example.com", Capabilities: []string{"build"},
			Environments: []string{"staging"}, Principals: []string{"github:pay-coder[bot]"}, Labels: map[string]string{"team": "payments"}},
		{Name: "pay-deployer", Type: "deployment", Owner: "payments@example.com", Capabilities: []string{"deploy"},
			Environments: []string{"staging", "production"}, Principals: []string{"argocd:pay-deployer"}, Labels: map[string]string{"team": "payments"}},
	}
}

func actions(res registry.ApplyResult) string {
	var out []string
	for _, c := range res.Changes {
		out = append(out, c.Name+"="+c.Action)
	}
	return strings.Join(out, " ")
}

// auditCount is the head of the audit log.
func auditCount(t *testing.T, st *sqlstore.Store) int64 {
	t.Helper()
	n, err := st.AuditHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestApplyCreatesThenConverges(t *testing.T) {
	r, st, _, _ := fullRegistry(t)
	ctx := t.Context()
	res, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments(), Reason: "payments#12"})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res); got != "pay-coder=create pay-deployer=create" || res.AuditSeq != 1 {
		t.Fatalf("first apply: %s, audit seq %d", got, res.AuditSeq)
	}
	recs, err := st.QueryAudit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit: %d records, %v; want the apply as one record", len(recs), err)
	}
	if rec := recs[0]; rec.Actor != "ci" || rec.Details["created"] != "pay-coder,pay-deployer" ||
		rec.Message != "agents applied: 2 created, 0 updated, 0 decommissioned, 0 unchanged: payments#12" {
		t.Fatalf("audit record %+v", rec)
	}
	a, err := r.Get(ctx, "pay-coder")
	if err != nil || a.Tier != agents.TierNew || a.State != agents.StateActive || a.Labels["team"] != "payments" {
		t.Fatalf("created agent %+v, %v", a, err)
	}

	res, err = r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments()})
	if err != nil || actions(res) != "pay-coder=unchanged pay-deployer=unchanged" || res.AuditSeq != 0 || res.Changed() {
		t.Fatalf("second apply: %s, %+v, %v", actions(res), res, err)
	}
	if n := auditCount(t, st); n != 1 {
		t.Fatalf("an apply that changed nothing was audited: head %d", n)
	}

	specs := payments()
	specs[0].Owner = "payments-oncall@example.com"
	specs[0].Environments = []string{"staging", "preview"}
	res, err = r.Apply(ctx, "ci", registry.ApplyRequest{Agents: specs})
	if err != nil || actions(res) != "pay-coder=update pay-deployer=unchanged" {
		t.Fatalf("third apply: %s, %v", actions(res), err)
	}
	var fields []string
	for _, f := range res.Changes[0].Fields {
		fields = append(fields, f.Field)
	}
	if strings.Join(fields, ",") != "owner,environments" {
		t.Fatalf("changed fields %v", fields)
	}
	if a, _ := r.Get(ctx, "pay-coder"); a.Owner != "payments-oncall@example.com" || a.Version != 2 {
		t.Fatalf("updated agent %+v", a)
	}
}

// TestBypassApplyRefuses: each attempt fails as a whole and changes nothing.
func TestBypassApplyRefuses(t *testing.T) {
	tests := []struct {
		name     string
		existing []registry.Spec
		mutate   func(specs []registry.Spec) []registry.Spec
		req      func(r *registry.ApplyRequest)
		wantKind apperr.Kind
		wantErr  string
	}{
		{
			name:     "a type change",
			existing: payments(),
			mutate: func(s []registry.Spec) []registry.Spec {
				s[1].Type = agents.TypeCoding
				return s
			},
			wantKind: apperr.KindConflict, wantErr: "type is deployment and cannot change",
		},
		{
			name:     "a principal another agent holds",
			existing: []registry.Spec{{Name: "other", Type: agents.TypeCoding, Owner: "x", Principals: []string{"github:pay-coder[bot]"}}},
			wantKind: apperr.KindConflict,
		},
		{
			name:     "the same principal spelled differently",
			existing: []registry.Spec{{Name: "other", Type: agents.TypeCoding, Owner: "x", Principals: []string{"github:pay-coder[bot]"}}},
			mutate: func(s []registry.Spec) []registry.Spec {
				s[0].Principals = []string{"GitHub:Pay-Coder[bot]"}
				return s
			},
			wantKind: apperr.KindConflict,
		},
		{
			name:     "an update that takes another agent's principal",
			existing: []registry.Spec{payments()[0], {Name: "other", Type: agents.TypeCoding, Owner: "x", Principals: []string{"github:other[bot]"}}},
			mutate: func(s []registry.Spec) []registry.Spec {
				s[0].Principals = []string{"github:Other[bot]"}
				return s
			},
			wantKind: apperr.KindConflict,
		},
		{
			name: "an agent declared twice",
			mutate: func(s []registry.Spec) []registry.Spec {
				return append(s, s[0])
			},
			wantKind: apperr.KindInvalid, wantErr: `agent "pay-coder" is declared twice`,
		},
		{
			name:     "a prune with an empty selector",
			req:      func(r *registry.ApplyRequest) { r.Prune = map[string]string{} },
			wantKind: apperr.KindInvalid, wantErr: "prune needs a label selector",
		},
		{
			name: "an invalid agent",
			mutate: func(s []registry.Spec) []registry.Spec {
				s[1].Name = "Pay Deployer"
				return s
			},
			wantKind: apperr.KindInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, st, _, _ := fullRegistry(t)
			ctx := t.Context()
			for _, spec := range tc.existing {
				if _, _, err := r.Provision(ctx, "ops", spec); err != nil {
					t.Fatal(err)
				}
			}
			before := auditCount(t, st)
			listBefore, _ := r.List(ctx, store.AgentFilter{})
			specs := payments()
			if tc.mutate != nil {
				specs = tc.mutate(specs)
			}
			req := registry.ApplyRequest{Agents: specs}
			if tc.req != nil {
				tc.req(&req)
			}
			_, err := r.Apply(ctx, "ci", req)
			if apperr.KindOf(err) != tc.wantKind || !strings.Contains(fmtErr(err), tc.wantErr) {
				t.Fatalf("err = %v (kind %s), want kind %s containing %q", err, apperr.KindOf(err), tc.wantKind, tc.wantErr)
			}
			listAfter, _ := r.List(ctx, store.AgentFilter{})
			if len(listAfter) != len(listBefore) || auditCount(t, st) != before {
				t.Fatalf("a refused apply changed something: %d agents before, %d after", len(listBefore), len(listAfter))
			}
			for i := range listAfter {
				if listAfter[i].Version != listBefore[i].Version {
					t.Fatalf("agent %s changed", listAfter[i].Name)
				}
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestBypassApplyCannotPromote: a file that declares a higher tier for an
// existing agent (say, after an automatic demotion) changes nothing and
// says so; tiers move only through promote and demote.
func TestBypassApplyCannotPromote(t *testing.T) {
	r, _, _, _ := fullRegistry(t)
	ctx := t.Context()
	if _, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments()}); err != nil {
		t.Fatal(err)
	}
	specs := payments()
	specs[0].Tier = agents.TierTrusted
	res, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: specs})
	if err != nil || res.Changes[0].Action != registry.ActionUnchanged || len(res.Changes[0].Ignored) != 1 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if a, _ := r.Get(ctx, "pay-coder"); a.Tier != agents.TierNew {
		t.Fatalf("apply promoted the agent to %s", a.Tier)
	}
}

func TestApplyDryRunChangesNothing(t *testing.T) {
	r, st, _, _ := fullRegistry(t)
	ctx := t.Context()
	res, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments(), DryRun: true})
	if err != nil || actions(res) != "pay-coder=create pay-deployer=create" || !res.DryRun || res.AuditSeq != 0 {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if list, _ := r.List(ctx, store.AgentFilter{}); len(list) != 0 || auditCount(t, st) != 0 {
		t.Fatalf("a dry run stored %d agents and %d audit records", len(list), auditCount(t, st))
	}
}

func TestApplyPrunes(t *testing.T) {
	r, st, _, rl := fullRegistry(t)
	ctx := t.Context()
	if _, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments()}); err != nil {
		t.Fatal(err)
	}
	// Another team's agent, and one of payments' with a token and a
	// pending approval, which the file no longer declares.
	other, _, err := r.Provision(ctx, "ops", registry.Spec{Name: "search-coder", Type: agents.TypeCoding, Owner: "search",
		Principals: []string{"github:search-coder[bot]"}, Labels: map[string]string{"team": "search"}})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := r.RotateToken(ctx, "ops", "pay-deployer")
	if err != nil {
		t.Fatal(err)
	}
	dep, _ := r.Get(ctx, "pay-deployer")
	pendingApproval(t, st, "ap-1", dep, dep.CreatedAt)

	res, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments()[:1], Prune: map[string]string{"team": "payments"}})
	if err != nil || actions(res) != "pay-coder=unchanged pay-deployer=decommission" {
		t.Fatalf("prune: %s, %v", actions(res), err)
	}
	dep, _ = r.Get(ctx, "pay-deployer")
	if dep.State != agents.StateDecommissioned || len(dep.Principals) != 0 {
		t.Fatalf("pruned agent %+v", dep)
	}
	if _, err := r.Authenticate(ctx, rot.Token); apperr.KindOf(err) != apperr.KindUnauthenticated {
		t.Fatalf("a pruned agent's token still works: %v", err)
	}
	if ap, _ := st.GetApproval(ctx, "ap-1"); ap.State != store.ApprovalCancelled {
		t.Fatalf("a pruned agent's pending approval is %s", ap.State)
	}
	if strings.Join(rl.ids, ",") != "ap-1" {
		t.Fatalf("the cancelled approval was not passed on: %v", rl.ids)
	}
	if got, _ := r.Get(ctx, other.ID); got.State != agents.StateActive {
		t.Fatalf("prune touched another team's agent: %+v", got)
	}
	// The freed principal may be registered again.
	if _, _, err := r.Provision(ctx, "ops", registry.Spec{Name: "pay-deployer-2", Type: "deployment", Owner: "p",
		Principals: []string{"argocd:pay-deployer"}}); err != nil {
		t.Fatal(err)
	}
	// Declaring the decommissioned name again is refused.
	if _, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments()}); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("re-declaring a decommissioned agent: %v", err)
	}
}

// TestApplyRenameWithPrune: renaming an agent in the files, with prune,
// decommissions the old name and gives its principals to the new one in
// the same apply.
func TestApplyRenameWithPrune(t *testing.T) {
	r, _, _, _ := fullRegistry(t)
	ctx := t.Context()
	if _, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: payments()}); err != nil {
		t.Fatal(err)
	}
	specs := payments()
	specs[0].Name = "pay-coder-v2"
	res, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: specs, Prune: map[string]string{"team": "payments"}})
	if err != nil || actions(res) != "pay-coder-v2=create pay-deployer=unchanged pay-coder=decommission" {
		t.Fatalf("rename: %s, %v", actions(res), err)
	}
	a, err := r.Get(ctx, "pay-coder-v2")
	if err != nil || strings.Join(a.Principals, ",") != "github:pay-coder[bot]" {
		t.Fatalf("renamed agent %+v, %v", a, err)
	}
}

// TestBypassApplyRenameKeepsTier: renaming a demoted agent in the files,
// with a higher tier declared for the new name, does not restore the tier:
// the new agent takes over the old one's principals at the old one's tier.
func TestBypassApplyRenameKeepsTier(t *testing.T) {
	r, _, _, _ := fullRegistry(t)
	ctx := t.Context()
	specs := payments()
	specs[0].Tier = agents.TierTrusted
	if _, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: specs}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Demote(ctx, "rollback", "pay-coder", agents.TierNew, "rolled back a bad deploy"); err != nil {
		t.Fatal(err)
	}
	specs[0].Name = "pay-coder-v2" // still declared trusted
	res, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: specs, Prune: map[string]string{"team": "payments"}})
	if err != nil || actions(res) != "pay-coder-v2=create pay-deployer=unchanged pay-coder=decommission" || len(res.Changes[0].Ignored) != 1 {
		t.Fatalf("rename: %+v, %v", res, err)
	}
	if a, _ := r.Get(ctx, "pay-coder-v2"); a.Tier != agents.TierNew {
		t.Fatalf("a rename restored tier %s after a demotion to new", a.Tier)
	}
}

// TestApplyAuditRecordStaysSmall: the changed fields of a very large apply
// are left out of its one audit record; the names stay.
func TestApplyAuditRecordStaysSmall(t *testing.T) {
	r, st, _, _ := fullRegistry(t)
	ctx := t.Context()
	var specs []registry.Spec
	for i := range 400 {
		specs = append(specs, registry.Spec{Name: fmt.Sprintf("bulk-%03d", i), Type: agents.TypeCoding, Owner: "bulk@example.com",
			Capabilities: []string{"build"}, Environments: []string{"staging", "preview-*"},
			Principals: []string{fmt.Sprintf("github:bulk-%03d[bot]", i)}, Labels: map[string]string{"team": "bulk", "import": "2026-12"}})
	}
	if _, err := r.Apply(ctx, "ci", registry.ApplyRequest{Agents: specs}); err != nil {
		t.Fatal(err)
	}
	recs, err := st.QueryAudit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	d := recs[0].Details
	if !strings.HasPrefix(d["changes"], "omitted: ") || strings.Count(d["created"], ",") != 399 {
		t.Fatalf("changes %.100q, created %.100q", d["changes"], d["created"])
	}
}
