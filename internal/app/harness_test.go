package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/generic"
	"github.com/agentgate/agentgate/internal/testutil/pgtest"
)

const (
	adminToken    = "admin-token-0123456789"
	operatorToken = "operator-token-0123456789"
	viewerToken   = "viewer-token-0123456789"
	webhookSecret = "generic-webhook-secret"
)

// backends are the stores every end-to-end test runs on.
var backends = []string{"sqlite", "postgres"}

type harness struct {
	t   *testing.T
	app *App
	h   http.Handler
}

func testProviders(cfg config.Config, _ *slog.Logger) ([]providers.Provider, error) {
	return []providers.Provider{generic.New(cfg.Webhooks.Generic.Secret.Reveal())}, nil
}

// newHarness builds the whole service on the backend with the built-in
// policies, and static tokens for each role.
func newHarness(t *testing.T, backend string, mutate ...func(*config.Config)) *harness {
	t.Helper()
	return newHarnessAt(t, backend, nil, mutate...)
}

// newHarnessAt is newHarness on the clock now (nil: the wall clock).
func newHarnessAt(t *testing.T, backend string, now func() time.Time, mutate ...func(*config.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"ADMISSION_DATA_DIR":                 dir,
		"ADMISSION_STORE_DRIVER":             backend,
		"ADMISSION_AUTH_BOOTSTRAP_TOKEN":     adminToken,
		"ADMISSION_WEBHOOKS_GENERIC_SECRET":  webhookSecret,
		"ADMISSION_SERVER_MAX_BODY_BYTES":    "65536",
		"ADMISSION_STORE_SQLITE_PATH":        filepath.Join(dir, "agentgate.db"),
		"ADMISSION_STORE_POSTGRES_MAX_CONNS": "10",
	}
	if backend == "postgres" {
		env["ADMISSION_STORE_POSTGRES_DSN"] = pgtest.DSN(t)
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth.Tokens = []config.Token{
		{Name: "sre-oncall", Role: config.RoleOperator, Token: config.NewSecret(operatorToken, "test")},
		{Name: "auditor", Role: config.RoleViewer, Token: config.NewSecret(viewerToken, "test")},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := New(context.Background(), Options{Config: cfg, Providers: testProviders, Announce: io.Discard, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return &harness{t: t, app: a, h: a.Server.Handler()}
}

// call makes an API request and decodes a JSON answer into out (if non-nil).
func (h *harness) call(method, path, token string, body any, out any) int {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		r = bytes.NewReader(js)
	}
	req := httptest.NewRequest(method, path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if out != nil && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			h.t.Fatalf("%s %s: decode %q: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code
}

// mustCall is call that fails the test on an unexpected status.
func (h *harness) mustCall(method, path, token string, body any, want int, out any) {
	h.t.Helper()
	var raw json.RawMessage
	if code := h.call(method, path, token, body, &raw); code != want {
		h.t.Fatalf("%s %s = %d, want %d: %s", method, path, code, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatal(err)
		}
	}
}

type answer struct {
	Delivery  string `json:"delivery"`
	Decisions []struct {
		DecisionID  string `json:"decision_id"`
		Outcome     string `json:"outcome"`
		Effective   string `json:"effective"`
		Enforcement string `json:"enforcement"`
		Reasons     []struct {
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"reasons"`
		Warnings     []struct{ Rule string } `json:"warnings"`
		Unregistered bool                    `json:"unregistered_agent"`
		Replayed     bool                    `json:"replayed"`
		Released     []string                `json:"released"`
		Approval     *struct {
			ID        string   `json:"id"`
			Approvers []string `json:"approvers"`
		} `json:"approval"`
		Quotas []struct {
			Name    string `json:"name"`
			Used    int64  `json:"used"`
			Limit   int64  `json:"limit"`
			Allowed bool   `json:"allowed"`
		} `json:"quotas"`
		PolicyRevision string `json:"policy_revision"`
	} `json:"decisions"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (a answer) rules() []string {
	var out []string
	for _, r := range a.Decisions[0].Reasons {
		out = append(out, r.Rule)
	}
	return out
}

// webhookRaw posts a generic webhook with the given signature.
func (h *harness) webhookRaw(delivery string, body []byte, sig string) (int, answer) {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/generic", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(generic.HeaderSignature, sig)
	}
	if delivery != "" {
		req.Header.Set(generic.HeaderDelivery, delivery)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	var a answer
	_ = json.Unmarshal(rec.Body.Bytes(), &a)
	return rec.Code, a
}

// decide posts a correctly signed event and expects a 200.
func (h *harness) decide(ev map[string]any) answer {
	h.t.Helper()
	body, _ := json.Marshal(ev)
	code, a := h.webhookRaw(fmt.Sprintf("d-%d", rand.Int64()), body, providers.SignHMACSHA256([]byte(webhookSecret), body))
	if code != http.StatusOK || len(a.Decisions) != 1 {
		h.t.Fatalf("webhook = %d %+v", code, a)
	}
	return a
}

type agentOut struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Tier  string `json:"tier"`
	State string `json:"state"`
	Owner string `json:"owner"`
}

// provision creates an agent and returns it with its token.
func (h *harness) provision(spec map[string]any) (agentOut, string) {
	h.t.Helper()
	var out struct {
		Agent agentOut `json:"agent"`
		Token string   `json:"token"`
	}
	h.mustCall(http.MethodPost, "/api/v1/agents", adminToken, spec, http.StatusCreated, &out)
	return out.Agent, out.Token
}

func (h *harness) auditCount() int {
	h.t.Helper()
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?limit=1000", viewerToken, nil, http.StatusOK, &page)
	return len(page.Items)
}

func codingAgent(name string) map[string]any {
	return map[string]any{
		"name": name, "type": "coding", "owner": "alice@example.com",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging", "preview-*"},
		"principals": []string{"github:" + name + "[bot]"},
	}
}

func build(principal string) map[string]any {
	return map[string]any{"kind": "build", "action": "requested", "repo": "acme/api", "sha": "abc123", "principal": principal,
		"trigger": map[string]any{"prompt": "fix the flaky test", "reasoning": "retry loop", "source": "api", "triggered_by": "bob"}}
}

func deploy(principal, env string) map[string]any {
	return map[string]any{"kind": "deploy", "action": "requested", "repo": "acme/api", "sha": "abc123", "environment": env, "principal": principal}
}

func forEachBackend(t *testing.T, fn func(t *testing.T, h *harness)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			fn(t, newHarness(t, b))
		})
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
