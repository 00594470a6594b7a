package main

import (
	"fmt"
	"net/http"
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
	submit := func() admission {
		t.Helper()
		n++
		return admit(t, e.h, admissionRequestIn(t, "prod-data", fmt.Sprintf("review-%03d", n), fmt.Sprintf("hello-world-%03d", n)))
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
	if first.Allowed || len(ids) != 1 || !strings.Contains(first.Message, ids[0]) || !strings.Contains(first.Message, "production") {
		t.Fatalf("first submission: %+v, pending %v", first, ids)
	}
	if again := submit(); again.Allowed || !strings.Contains(again.Message, ids[0]) || len(pending()) != 1 {
		t.Fatalf("resubmission while pending: %+v, pending %v", again, pending())
	}
	e.call(http.MethodPost, "/api/v1/approvals/"+ids[0]+"/approve", map[string]string{"reason": "checked the export"}, http.StatusOK, nil)
	admitted := submit()
	if !admitted.Allowed || !strings.Contains(strings.Join(admitted.Warnings, "\n"), "approved by") {
		t.Fatalf("resubmission after approval: %+v", admitted)
	}
	next := submit()
	if next.Allowed || strings.Contains(next.Message, ids[0]) || len(pending()) != 1 {
		t.Fatalf("a second resubmission used the same approval: %+v", next)
	}
}
