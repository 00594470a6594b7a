package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
)

// TestBadWebhookInput: unsigned, mis-signed, malformed and oversized
// deliveries are refused with the right status and change nothing.
func TestBadWebhookInput(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("coder"))
	good, _ := json.Marshal(build("github:coder[bot]"))
	sign := func(b []byte) string { return providers.SignHMACSHA256([]byte(webhookSecret), b) }
	big := []byte(`{"kind":"build","principal":"github:coder[bot]","labels":{"pad":"` + strings.Repeat("x", 70000) + `"}}`)
	tests := []struct {
		name     string
		delivery string
		body     []byte
		sig      string
		status   int
		code     string
		message  string
	}{
		{name: "unsigned", delivery: "a", body: good, status: 401, code: "unauthenticated", message: "signature"},
		{name: "signed with another key", delivery: "b", body: good, sig: providers.SignHMACSHA256([]byte("guess"), good), status: 401, code: "unauthenticated"},
		{name: "signature of another body", delivery: "c", body: good, sig: sign([]byte("{}")), status: 401, code: "unauthenticated"},
		{name: "malformed JSON", delivery: "d", body: []byte(`{"kind":`), sig: sign([]byte(`{"kind":`)), status: 400, code: "invalid_argument", message: "invalid event JSON"},
		{name: "unknown field", delivery: "e", body: []byte(`{"kind":"build","principal":"github:coder[bot]","enviroment":"prod"}`), status: 400, code: "invalid_argument", message: `unknown field "enviroment"`},
		{name: "missing principal", delivery: "f", body: []byte(`{"kind":"build"}`), status: 400, code: "invalid_argument", message: "event.principal is required"},
		{name: "missing delivery id", body: good, sig: sign(good), status: 400, code: "invalid_argument", message: "X-Agentgate-Delivery"},
		{name: "oversized", delivery: "g", body: big, sig: sign(big), status: 413, code: "payload_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig := tc.sig
			if sig == "" && tc.status == 400 {
				sig = sign(tc.body)
			}
			before := h.auditCount()
			code, a := h.webhookRaw(tc.delivery, tc.body, sig)
			if code != tc.status || a.Error == nil || a.Error.Code != tc.code || !strings.Contains(a.Error.Message, tc.message) {
				t.Fatalf("= %d %+v, want %d %s containing %q", code, a.Error, tc.status, tc.code, tc.message)
			}
			if strings.Contains(a.Error.Message, webhookSecret) {
				t.Fatal("the secret was echoed")
			}
			if h.auditCount() != before {
				t.Fatal("a refused delivery changed the audit log")
			}
		})
	}
}

// TestWebhookWithoutSecretFailsClosed: no configured secret refuses all.
func TestWebhookWithoutSecretFailsClosed(t *testing.T) {
	h := newHarness(t, "sqlite", func(c *config.Config) { c.Webhooks.Generic.Secret = config.Secret{} })
	body, _ := json.Marshal(build("github:x[bot]"))
	code, a := h.webhookRaw("d1", body, providers.SignHMACSHA256(nil, body))
	if code != 401 || !strings.Contains(a.Error.Message, "not configured") {
		t.Fatalf("= %d %+v", code, a.Error)
	}
}

// TestReplayedDelivery: a retried delivery gets the first answer and is
// not charged twice.
func TestReplayedDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		_, token := h.provision(codingAgent("retry-bot"))
		body, _ := json.Marshal(build("github:retry-bot[bot]"))
		sig := providers.SignHMACSHA256([]byte(webhookSecret), body)
		_, first := h.webhookRaw("delivery-1", body, sig)
		before := h.auditCount()
		code, again := h.webhookRaw("delivery-1", body, sig)
		if code != 200 || !again.Decisions[0].Replayed || again.Decisions[0].DecisionID != first.Decisions[0].DecisionID {
			t.Fatalf("replay = %d %+v, first %+v", code, again.Decisions[0], first.Decisions[0])
		}
		if h.auditCount() != before {
			t.Fatal("a replay wrote a new audit record")
		}
		var me struct {
			Quotas []struct{ Used int64 } `json:"quotas"`
		}
		h.mustCall(http.MethodGet, "/api/v1/me", token, nil, http.StatusOK, &me)
		if me.Quotas[0].Used != 1 {
			t.Fatalf("used = %d after a replay, want 1", me.Quotas[0].Used)
		}
	})
}

// TestAPIErrors covers authentication, authorization and validation errors.
func TestAPIErrors(t *testing.T) {
	h := newHarness(t, "sqlite")
	agent, agentToken := h.provision(codingAgent("api-bot"))
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{name: "no token", method: "GET", path: "/api/v1/agents", status: 401, code: "unauthenticated"},
		{name: "wrong token", method: "GET", path: "/api/v1/agents", token: "nope-nope-nope-nope", status: 401, code: "unauthenticated"},
		{name: "forged agent token", method: "GET", path: "/api/v1/me", token: "agt_forged", status: 401, code: "unauthenticated"},
		{name: "viewer cannot create", method: "POST", path: "/api/v1/agents", token: viewerToken, body: codingAgent("x"), status: 403, code: "forbidden"},
		{name: "operator cannot promote", method: "POST", path: "/api/v1/agents/" + agent.ID + "/promote", token: operatorToken, body: map[string]any{"reason": "r"}, status: 403, code: "forbidden"},
		{name: "agent cannot list agents", method: "GET", path: "/api/v1/agents", token: agentToken, status: 403, code: "forbidden"},
		{name: "human on /me", method: "GET", path: "/api/v1/me", token: viewerToken, status: 403, code: "forbidden"},
		{name: "unknown agent", method: "GET", path: "/api/v1/agents/no-such-agent", token: viewerToken, status: 404, code: "not_found"},
		{name: "unknown agent suspend", method: "POST", path: "/api/v1/agents/no-such-agent/suspend", token: operatorToken, status: 404, code: "not_found"},
		{name: "unknown kill switch", method: "DELETE", path: "/api/v1/killswitches/nope", token: adminToken, status: 404, code: "not_found"},
		{name: "unknown approval", method: "GET", path: "/api/v1/approvals/nope", token: viewerToken, status: 404, code: "not_found"},
		{name: "malformed body", method: "POST", path: "/api/v1/agents", token: adminToken, body: `{"name":`, status: 400, code: "invalid_argument"},
		{name: "unknown field", method: "POST", path: "/api/v1/agents", token: adminToken, body: `{"name":"x","tpye":"coding"}`, status: 400, code: "invalid_argument"},
		{name: "invalid agent", method: "POST", path: "/api/v1/agents", token: adminToken, body: map[string]any{"name": "Bad Name", "type": "coding", "owner": "o"}, status: 400, code: "invalid_argument"},
		{name: "bad principal", method: "POST", path: "/api/v1/agents", token: adminToken, body: map[string]any{"name": "p", "type": "coding", "owner": "o", "principals": []string{"nocolon"}}, status: 400, code: "invalid_argument"},
		{name: "principal already bound", method: "POST", path: "/api/v1/agents", token: adminToken, body: map[string]any{"name": "dup", "type": "coding", "owner": "o", "principals": []string{"github:api-bot[bot]"}}, status: 409, code: "conflict"},
		{name: "duplicate name", method: "POST", path: "/api/v1/agents", token: adminToken, body: map[string]any{"name": "api-bot", "type": "coding", "owner": "o"}, status: 409, code: "conflict"},
		{name: "promote without reason", method: "POST", path: "/api/v1/agents/" + agent.ID + "/promote", token: adminToken, body: map[string]any{}, status: 400, code: "invalid_argument"},
		{name: "kill without reason", method: "POST", path: "/api/v1/agents/" + agent.ID + "/kill", token: operatorToken, body: map[string]any{}, status: 400, code: "invalid_argument"},
		{name: "bad audit cursor", method: "GET", path: "/api/v1/audit?after=x", token: viewerToken, status: 400, code: "invalid_argument"},
		{name: "bad cost grouping", method: "GET", path: "/api/v1/costs?by=repo", token: viewerToken, status: 400, code: "invalid_argument"},
		{name: "unknown route", method: "GET", path: "/api/v1/nothing", token: viewerToken, status: 404, code: "not_found"},
		{name: "unknown provider", method: "POST", path: "/webhooks/jenkins", body: "{}", status: 404, code: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out answer
			code := h.call(tc.method, tc.path, tc.token, tc.body, &out)
			if code != tc.status || out.Error == nil || out.Error.Code != tc.code || out.Error.Message == "" {
				t.Fatalf("= %d %+v, want %d %s", code, out.Error, tc.status, tc.code)
			}
		})
	}
}
