package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// authzenCall posts an AuthZEN request with the token and request id.
func (h *harness) authzenCall(path, token, requestID, body string) (*httptest.ResponseRecorder, map[string]any) {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

// TestAuthZEN: the OpenID AuthZEN evaluation endpoints decide through the
// gate: a person is allowed, an agent calling a tool is charged its API
// calls and audited, its kill switch denies it, and a batch follows its
// semantic.
func TestAuthZEN(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { testAuthZEN(t, b) })
	}
}

func testAuthZEN(t *testing.T, backend string) {
	// A clock that stands still, so that the second tool call is charged
	// on top of the first however slowly the test runs (the rate quota
	// refills one call every 120 ms).
	at := time.Now().UTC()
	h := newHarnessAt(t, backend, func() time.Time { return at })
	h.provision(map[string]any{"name": "mcp-bot", "type": "coding", "owner": "alice@example.com", "capabilities": []string{"build"},
		"principals": []string{"github:mcp-bot[bot]"}})
	const single = "/access/v1/evaluation"

	// The specification's example request.
	rec, out := h.authzenCall(single, operatorToken, "bfe9eb29-ab87-4ca3-be83-a1d5d8305716",
		`{"subject":{"type":"user","id":"alice@acmecorp.com"},"resource":{"type":"todo","id":"1"},"action":{"name":"can_read"},"context":{"time":"1985-10-26T01:22-07:00"}}`)
	if rec.Code != http.StatusOK || out["decision"] != true || rec.Header().Get("X-Request-ID") != "bfe9eb29-ab87-4ca3-be83-a1d5d8305716" {
		t.Fatalf("the specification's example: %d %s", rec.Code, rec.Body)
	}

	toolCall := `{"subject":{"type":"agent","id":"mcp-bot"},"action":{"name":"tools/call"},"resource":{"type":"tool","id":"github.create_issue"},
		"context":{"trigger":{"prompt":"file the flaky test","triggered_by":"dana"}}}`
	rec, out = h.authzenCall(single, operatorToken, "call-1", toolCall)
	if rec.Code != http.StatusOK || out["decision"] != true {
		t.Fatalf("an agent's tool call: %d %s", rec.Code, rec.Body)
	}
	first := out["context"].(map[string]any)["decision_id"]
	// A retry of the same call is a replay: the same decision, nothing charged twice.
	if _, again := h.authzenCall(single, operatorToken, "call-1", toolCall); again["context"].(map[string]any)["decision_id"] != first {
		t.Fatalf("a retried call was decided again: %v then %v", first, again)
	}
	// The same request id for another question is another decision.
	other := strings.Replace(toolCall, "github.create_issue", "github.merge_pr", 1)
	if _, out := h.authzenCall(single, operatorToken, "call-1", other); out["context"].(map[string]any)["decision_id"] == first {
		t.Fatal("another question under the same request id got the first answer")
	}
	var me struct {
		Items []struct {
			Principal, Provider, Actor string
			Decision                   struct{ Outcome string } `json:"decision"`
			Quotas                     []struct {
				Name string
				Used int
			}
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?kind=decision&provider=authzen", viewerToken, nil, http.StatusOK, &me)
	if len(me.Items) != 3 {
		t.Fatalf("%d authzen decisions audited, want 3 (the replay is not a decision)", len(me.Items))
	}
	last := me.Items[2]
	if last.Principal != "github:mcp-bot[bot]" || last.Actor != "sre-oncall" || len(last.Quotas) == 0 || last.Quotas[0].Name != "api_calls_per_minute" || last.Quotas[0].Used != 2 {
		t.Fatalf("the tool call's audit record %+v", last)
	}

	// The agent's kill switch.
	h.mustCall(http.MethodPost, "/api/v1/agents/mcp-bot/kill", operatorToken, map[string]string{"reason": "runaway tool loop"}, http.StatusOK, nil)
	rec, out = h.authzenCall(single, operatorToken, "", toolCall)
	if rec.Code != http.StatusOK || out["decision"] != false || !strings.Contains(rec.Body.String(), "kill switch") {
		t.Fatalf("a killed agent's tool call: %d %s", rec.Code, rec.Body)
	}

	// A batch with defaults: deny_on_first_deny stops at the killed agent.
	batch := `{"action":{"name":"can_read"},"resource":{"type":"todo","id":"1"},"options":{"evaluations_semantic":"deny_on_first_deny"},
		"evaluations":[{"subject":{"type":"user","id":"alice@acmecorp.com"}},{"subject":{"type":"agent","id":"mcp-bot"}},{"subject":{"type":"user","id":"bob@acmecorp.com"}},
		{"subject":{"type":"agent","id":"nobody"}}]}`
	rec, out = h.authzenCall("/access/v1/evaluations", operatorToken, "", batch)
	evs, _ := out["evaluations"].([]any)
	if rec.Code != http.StatusOK || len(evs) != 2 || evs[0].(map[string]any)["decision"] != true || evs[1].(map[string]any)["decision"] != false {
		t.Fatalf("deny_on_first_deny: %d %s", rec.Code, rec.Body)
	}
	// execute_all answers every one; an unknown agent is a per-evaluation error.
	rec, out = h.authzenCall("/access/v1/evaluations", operatorToken, "", strings.Replace(batch, "deny_on_first_deny", "execute_all", 1))
	evs, _ = out["evaluations"].([]any)
	if rec.Code != http.StatusOK || len(evs) != 4 || evs[2].(map[string]any)["decision"] != true ||
		!strings.Contains(rec.Body.String(), `"status":404`) {
		t.Fatalf("execute_all: %d %s", rec.Code, rec.Body)
	}

	// Who may ask.
	if rec, _ := h.authzenCall(single, viewerToken, "", toolCall); rec.Code != http.StatusForbidden {
		t.Fatalf("a viewer's evaluation: %d", rec.Code)
	}
	if rec, _ := h.authzenCall(single, "", "", toolCall); rec.Code != http.StatusUnauthorized {
		t.Fatalf("an evaluation without a token: %d", rec.Code)
	}
	if rec, _ := h.authzenCall(single, operatorToken, "", `{"subject":{"type":"user"}}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("an incomplete evaluation: %d", rec.Code)
	}

	// The metadata document.
	req := httptest.NewRequest(http.MethodGet, "/.well-known/authzen-configuration", nil)
	req.Host = "agentgate.example.com"
	req.Header.Set("X-Forwarded-Proto", "https")
	mrec := httptest.NewRecorder()
	h.h.ServeHTTP(mrec, req)
	if !strings.Contains(mrec.Body.String(), `"access_evaluations_endpoint":"https://agentgate.example.com/access/v1/evaluations"`) {
		t.Fatalf("metadata: %s", mrec.Body)
	}
}

// TestBypassAuthZENSubjectSpelling: an agent's login sent as a person
// ("user" subject) is not taken for a person: its bot login makes it an
// unregistered agent, which the policy denies.
func TestBypassAuthZENSubjectSpelling(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(map[string]any{"name": "mcp-bot", "type": "coding", "owner": "alice@example.com", "capabilities": []string{"build"},
		"principals": []string{"github:mcp-bot[bot]"}})
	for _, subject := range []string{
		`{"type":"user","id":"mcp-bot[bot]"}`,                       // the agent's login as a person's
		`{"type":"github","id":"MCP-Bot[bot]"}`,                     // another case of its principal
		`{"type":"user","id":"github:mcp-bot[bot]"}`,                // its principal as a person's id
		`{"type":"user","id":"system:serviceaccount:ci:bot"}`,       // a service account as a person
		`{"type":"user","id":"dana","properties":{"machine":true}}`, // the PEP knows it is a machine
		`{"type":"agent","id":"github:unknown-helper"}`,             // an unregistered agent by principal
	} {
		rec, out := h.authzenCall("/access/v1/evaluation", operatorToken, "", `{"subject":`+subject+`,"action":{"name":"deploy"},"resource":{"type":"environment","id":"production","properties":{"repo":"acme/api"}}}`)
		if rec.Code != http.StatusOK || out["decision"] != false {
			t.Fatalf("subject %s deploying to production: %d %s", subject, rec.Code, rec.Body)
		}
	}
}
