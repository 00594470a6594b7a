package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestArgoWorkflowApprovalResubmit: a new agent's Workflow in a production
// namespace (argo.namespace_environments) needs a human. Admission cannot
// wait, so it is refused naming an approval; resubmitting while it is
// pending names the same approval; once a person approves it through the
// API, one resubmission of the same spec is admitted, and the next asks
// again.
func TestArgoWorkflowApprovalResubmit(t *testing.T) {
	a := startAppFile(t, "argo:\n  namespace_environments:\n    prod-*: production\n", map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
	})
	e := &e2e{t: t, h: a.Server.Handler()}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-bot", "type": "data-pipeline", "owner": "data-team",
		"capabilities": []string{"workflow"}, "environments": []string{"production"}, "namespaces": []string{"prod-data"},
		"labels":     map[string]string{"argo.service_accounts": "agent-runner"},
		"principals": []string{"k8s:system:serviceaccount:prod-data:claude-bot"}}, http.StatusCreated, nil)

	n := 0
	type answer struct {
		allowed  bool
		message  string
		warnings []string
	}
	submit := func() answer {
		t.Helper()
		n++
		body := admissionRequestIn(t, "prod-data", fmt.Sprintf("review-%03d", n), fmt.Sprintf("hello-world-%03d", n))
		req := httptest.NewRequest(http.MethodPost, "/argo/admission?timeout=10s", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		var out struct {
			Response struct {
				Allowed  bool     `json:"allowed"`
				Warnings []string `json:"warnings"`
				Status   *struct {
					Message string `json:"message"`
				} `json:"status"`
			} `json:"response"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("admission answered %d: %s", rec.Code, rec.Body)
		}
		ans := answer{allowed: out.Response.Allowed, warnings: out.Response.Warnings}
		if out.Response.Status != nil {
			ans.message = out.Response.Status.Message
		}
		return ans
	}
	pending := func() []string {
		t.Helper()
		var list struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		e.call(http.MethodGet, "/api/v1/approvals?state=pending", nil, http.StatusOK, &list)
		ids := []string{}
		for _, ap := range list.Items {
			ids = append(ids, ap.ID)
		}
		return ids
	}

	first := submit()
	ids := pending()
	if first.allowed || len(ids) != 1 || !strings.Contains(first.message, ids[0]) || !strings.Contains(first.message, "production") {
		t.Fatalf("first submission: %+v, pending %v", first, ids)
	}
	if again := submit(); again.allowed || !strings.Contains(again.message, ids[0]) || len(pending()) != 1 {
		t.Fatalf("resubmission while pending: %+v, pending %v", again, pending())
	}
	e.call(http.MethodPost, "/api/v1/approvals/"+ids[0]+"/approve", map[string]string{"reason": "checked the export"}, http.StatusOK, nil)
	admitted := submit()
	if !admitted.allowed || !strings.Contains(strings.Join(admitted.warnings, "\n"), "approved by") {
		t.Fatalf("resubmission after approval: %+v", admitted)
	}
	next := submit()
	if next.allowed || strings.Contains(next.message, ids[0]) || len(pending()) != 1 {
		t.Fatalf("a second resubmission used the same approval: %+v", next)
	}
}
