package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/generic"
	"github.com/agentgate/agentgate/internal/store/sqlite"
)

// newPlainServer is a server on SQLite with the generic provider (secret
// "s3cret"), a viewer and an operator token, a 64-byte body limit, no
// policy and no rollback.
func newPlainServer(t *testing.T) *Server {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "agentgate.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg, err := providers.NewRegistry(generic.New("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Store: st, Providers: reg, Config: config.Server{MaxBodyBytes: 64}, Tokens: []StaticToken{
		NewStaticToken("vera", config.RoleViewer, viewerToken), NewStaticToken("olga", config.RoleOperator, operatorToken)}})
}

// TestRoutingAndErrors: every answer the router gives by itself — health,
// readiness, unknown routes and methods, authentication, roles, body
// limits, unknown providers, bad signatures — has its status and the one
// error envelope with the request id.
func TestRoutingAndErrors(t *testing.T) {
	s := newPlainServer(t)
	big := strings.Repeat("x", 100)
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       string
		requestID  string
		cancelled  bool
		status     int
		code       string
		wantHeader map[string]string
	}{
		{name: "liveness", method: "GET", path: "/healthz", status: 200},
		{name: "not ready without a policy", method: "GET", path: "/readyz", status: 503},
		{name: "an unknown route", method: "GET", path: "/nope", status: 404, code: "not_found"},
		{name: "a method a route does not take", method: "DELETE", path: "/healthz", status: 405, code: "method_not_allowed"},
		{name: "the API without a token", method: "GET", path: "/api/v1/agents", status: 401, code: "unauthenticated",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="agentgate"`}},
		{name: "the API with a wrong token", method: "GET", path: "/api/v1/agents", token: "wrong-token-0123456789", status: 401, code: "unauthenticated"},
		{name: "a viewer pulling a kill switch", method: "POST", path: "/api/v1/killswitches", token: viewerToken,
			body: `{"scope":"global","reason":"x"}`, status: 403, code: "forbidden"},
		{name: "an unknown webhook provider", method: "POST", path: "/webhooks/jenkins", body: `{}`, status: 404, code: "not_found"},
		{name: "a webhook body over the limit", method: "POST", path: "/webhooks/generic", body: big, status: 413, code: "payload_too_large"},
		{name: "a webhook without its signature", method: "POST", path: "/webhooks/generic", body: `{"kind":"build"}`, status: 401, code: "unauthenticated"},
		{name: "a client that went away is not a server error", method: "GET", path: "/api/v1/agents", token: viewerToken, cancelled: true,
			status: 499, code: "client_closed_request"},
		{name: "the caller's request id is kept", method: "GET", path: "/nope", requestID: "req-42", status: 404, code: "not_found",
			wantHeader: map[string]string{"X-Request-Id": "req-42"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.requestID != "" {
				req.Header.Set("X-Request-Id", tc.requestID)
			}
			if tc.cancelled {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.status)
			}
			for k, v := range tc.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.code == "" {
				return
			}
			var body struct {
				Error struct {
					Code, Message string
					RequestID     string `json:"request_id"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("not the JSON error envelope: %s", rec.Body)
			}
			if body.Error.Code != tc.code || body.Error.Message == "" || body.Error.RequestID != rec.Header().Get("X-Request-Id") {
				t.Fatalf("error %+v, want code %s with the request id %q", body.Error, tc.code, rec.Header().Get("X-Request-Id"))
			}
		})
	}
}
