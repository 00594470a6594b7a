package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

// healthyStore is the embedded store, never taken away.
var healthyStore = outage{name: "sqlite", store: func(*testing.T, string) (map[string]string, func(), func()) {
	return map[string]string{}, func() {}, func() {}
}}

// TestEveryProviderEndToEnd drives every way in — the generic webhook,
// GitHub's and GitLab's webhooks, GitLab's job gate, Argo CD's PreSync
// hook and notifications, Argo Workflows' admission review — with the
// real-format payloads of testdata/ through the whole pipeline (verify,
// parse, identify, policy, quota, audit) of one running service, and
// checks the answer each sender gets and the decision the audit log keeps.
func TestEveryProviderEndToEnd(t *testing.T) {
	o := newOutageApp(t, healthyStore)
	tests := []struct {
		name string
		send func(t *testing.T) *httptest.ResponseRecorder
		// status is the answer's, which says outcome (for an admission
		// review, allowed); principal's newest audited decision is outcome.
		status    int
		outcome   string
		principal string
	}{
		{name: "generic: an agent's build", send: func(t *testing.T) *httptest.ResponseRecorder {
			return o.genericRaw(fixtures.Read(t, "generic", "build.agent.json"))
		}, status: 200, outcome: "allow", principal: "github:coder-bot[bot]"},
		{name: "generic: a staging-only agent's production deploy", send: func(t *testing.T) *httptest.ResponseRecorder {
			return o.genericRaw(fixtures.Read(t, "generic", "deploy.production.staging-only-agent.json"))
		}, status: 200, outcome: "deny", principal: "github:coder-bot[bot]"},
		{name: "generic: a trusted agent's production deploy", send: func(t *testing.T) *httptest.ResponseRecorder {
			return o.genericRaw(fixtures.Read(t, "generic", "deploy.production.json"))
		}, status: 200, outcome: "allow", principal: "github-app:release-bot"},
		{name: "github: an agent's workflow run", send: func(t *testing.T) *httptest.ResponseRecorder {
			body := fixtures.Read(t, "github", "workflow_run.requested.bot-trailers.json")
			req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
			req.Header.Set("X-GitHub-Event", "workflow_run")
			req.Header.Set("X-GitHub-Delivery", "every-provider-gh-1")
			req.Header.Set("X-Hub-Signature-256", providers.SignHMACSHA256([]byte(e2eSecret), body))
			return o.serve(req)
		}, status: 200, outcome: "allow", principal: "github:coder-bot[bot]"},
		{name: "gitlab: an agent's pipeline", send: func(t *testing.T) *httptest.ResponseRecorder {
			return o.gitlab(fixtures.Read(t, "gitlab", "pipeline.pending.bot-variables.json"))
		}, status: 200, outcome: "allow", principal: "gitlab:project_42_bot_5f3a9c"},
		{name: "gitlab gate: an agent's production job waits for a person", send: func(t *testing.T) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/gitlab/gate", nil)
			req.Header.Set("Authorization", "Bearer "+o.ids.token(t, "project_42_bot_deploy", "production"))
			return o.serve(req)
		}, status: 202, outcome: "approval_required", principal: "gitlab:project_42_bot_deploy"},
		{name: "argo cd presync: an agent's production sync waits for a person", send: func(t *testing.T) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/argo/presync", nil)
			req.Header.Set("Authorization", "Bearer "+hookToken)
			req.Header.Set("X-Agentgate-Application", "shop")
			return o.serve(req)
		}, status: 202, outcome: "approval_required", principal: "argocd:claude-deployer"},
		{name: "argo cd notifications: an agent's sync succeeded", send: func(t *testing.T) *httptest.ResponseRecorder {
			body := fixtures.Read(t, "argo", "notifications", "sync-succeeded.agent.json")
			req := httptest.NewRequest(http.MethodPost, "/webhooks/argo", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+hookToken)
			req.Header.Set("Content-Type", "application/json")
			return o.serve(req)
		}, status: 200, outcome: "allow", principal: "argocd:claude-deployer"},
		{name: "argo workflows: an agent's Workflow", send: func(t *testing.T) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/argo/admission?timeout=10s", bytes.NewReader(admissionRequest(t, "every-provider-1", "etl-every-1")))
			return o.serve(req)
		}, status: 200, outcome: "allow", principal: "k8s:system:serviceaccount:agents:claude-bot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.send(t)
			says := `"outcome":"` + tc.outcome + `"`
			if strings.HasPrefix(rec.Body.String(), `{"kind":"AdmissionReview"`) {
				says = `"allowed":` + fmt.Sprint(tc.outcome == "allow")
			}
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), says) {
				t.Fatalf("answer %d %s, want %d saying %s", rec.Code, rec.Body, tc.status, says)
			}
			if got := o.lastDecision(t, tc.principal); got != tc.outcome {
				t.Fatalf("audited decision of %s: %q, want %q", tc.principal, got, tc.outcome)
			}
		})
	}
	// Every decision above is in one intact hash chain.
	var v struct {
		OK      bool  `json:"ok"`
		Checked int64 `json:"checked"`
	}
	o.e.call(http.MethodGet, "/api/v1/audit/verify", nil, http.StatusOK, &v)
	if !v.OK || v.Checked < int64(len(tests)) {
		t.Fatalf("audit verify = %+v, want an intact chain of at least %d records", v, len(tests))
	}
}

// serve sends a request to the service.
func (o *outageApp) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	o.e.h.ServeHTTP(rec, req)
	return rec
}

// genericRaw posts a signed normalized event as it is.
func (o *outageApp) genericRaw(body []byte) *httptest.ResponseRecorder {
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		o.e.t.Fatal(err)
	}
	return o.generic(ev)
}

// lastDecision is the outcome of the newest audited decision of principal
// (the log lists the oldest first).
func (o *outageApp) lastDecision(t *testing.T, principal string) string {
	t.Helper()
	var page struct {
		Items []struct {
			Principal string `json:"principal"`
			Decision  *struct {
				Outcome string `json:"outcome"`
			} `json:"decision"`
		} `json:"items"`
	}
	o.e.call(http.MethodGet, "/api/v1/audit?kind=decision&limit=500", nil, http.StatusOK, &page)
	outcome := ""
	for _, it := range page.Items { // oldest first
		if it.Principal == principal && it.Decision != nil {
			outcome = it.Decision.Outcome
		}
	}
	return outcome
}
