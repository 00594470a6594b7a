package app

import (
	"net/http"
	"strconv"
	"testing"
)

// TestAgentsApply: agents declared as code are applied over the API in
// one audited change on both backends; only an admin may apply, and a
// dry run changes nothing.
func TestAgentsApply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		spec := func(name, owner string) map[string]any {
			return map[string]any{"name": name, "type": "coding", "owner": owner, "capabilities": []string{"build"},
				"environments": []string{"staging"}, "principals": []string{"github:" + name + "[bot]"}, "labels": map[string]string{"team": "payments"}}
		}
		req := map[string]any{"agents": []any{spec("pay-a", "payments"), spec("pay-b", "payments")}, "reason": "payments#7"}
		type result struct {
			Changes []struct {
				Name   string `json:"name"`
				Action string `json:"action"`
			} `json:"changes"`
			DryRun   bool  `json:"dry_run"`
			AuditSeq int64 `json:"audit_seq"`
		}
		actions := func(r result) string {
			s := ""
			for _, c := range r.Changes {
				s += c.Name + "=" + c.Action + " "
			}
			return s
		}

		if code := h.call(http.MethodPost, "/api/v1/agents/apply", operatorToken, req, nil); code != http.StatusForbidden {
			t.Fatalf("an operator's apply answered %d, want 403", code)
		}
		var dry result
		h.mustCall(http.MethodPost, "/api/v1/agents/apply", adminToken, map[string]any{"agents": req["agents"], "dry_run": true}, http.StatusOK, &dry)
		before := h.auditCount()
		if actions(dry) != "pay-a=create pay-b=create " || !dry.DryRun || dry.AuditSeq != 0 {
			t.Fatalf("dry run %+v", dry)
		}
		if code := h.call(http.MethodGet, "/api/v1/agents/pay-a", viewerToken, nil, nil); code != http.StatusNotFound {
			t.Fatalf("a dry run created an agent: GET answered %d", code)
		}

		var res result
		h.mustCall(http.MethodPost, "/api/v1/agents/apply", adminToken, req, http.StatusOK, &res)
		if actions(res) != "pay-a=create pay-b=create " || res.AuditSeq == 0 || h.auditCount() != before+1 {
			t.Fatalf("apply %+v; audit %d -> %d", res, before, h.auditCount())
		}
		var rec struct {
			Items []struct {
				Kind    string            `json:"kind"`
				Actor   string            `json:"actor"`
				Message string            `json:"message"`
				Details map[string]string `json:"details"`
			} `json:"items"`
		}
		h.mustCall(http.MethodGet, "/api/v1/audit?after="+strconv.FormatInt(res.AuditSeq-1, 10), viewerToken, nil, http.StatusOK, &rec)
		if r := rec.Items[0]; r.Kind != "admin_change" || r.Details["created"] != "pay-a,pay-b" || r.Details["reason"] != "payments#7" {
			t.Fatalf("audit record %+v", r)
		}

		// A new owner for pay-a, pay-b dropped from the files and pruned.
		next := map[string]any{"agents": []any{spec("pay-a", "payments-oncall")}, "prune": map[string]string{"team": "payments"}}
		h.mustCall(http.MethodPost, "/api/v1/agents/apply", adminToken, next, http.StatusOK, &res)
		if actions(res) != "pay-a=update pay-b=decommission " {
			t.Fatalf("second apply %+v", res)
		}
		var b struct {
			State string `json:"state"`
		}
		h.mustCall(http.MethodGet, "/api/v1/agents/pay-b", viewerToken, nil, http.StatusOK, &b)
		if b.State != "decommissioned" {
			t.Fatalf("pruned agent is %s", b.State)
		}
		// A strict body: an unknown field is refused.
		if code := h.call(http.MethodPost, "/api/v1/agents/apply", adminToken, map[string]any{"agents": []any{}, "force": true}, nil); code != http.StatusBadRequest {
			t.Fatalf("unknown field answered %d, want 400", code)
		}
	})
}
