package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	agentgate "github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

const hookToken = "argo-hook-token-0123456789"

func argoFixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path(append([]string{"argo"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newArgoE2E runs agentgate with a fake Argo CD API serving the named
// Application fixture.
func newArgoE2E(t *testing.T, app string) (*agentgate.App, *httptest.Server) {
	t.Helper()
	argocd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer argocd-token" || !strings.HasPrefix(r.URL.Path, "/api/v1/applications/") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(argoFixture(t, "argocd", app+".json"))
	}))
	t.Cleanup(argocd.Close)
	env := map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin, "ADMISSION_POLICY_DIR": shortTTLPolicies(t),
		"ADMISSION_ARGO_HOOK_TOKEN": hookToken, "ADMISSION_ARGO_ARGOCD_URL": argocd.URL, "ADMISSION_ARGO_ARGOCD_TOKEN": "argocd-token",
	}
	a := startApp(t, env)
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	e := &e2e{t: t, h: a.Server.Handler()}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-deployer", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"production", "shop-prod"}, "namespaces": []string{"shop-prod"},
		"principals": []string{"argocd:claude-deployer"}}, http.StatusCreated, nil)
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "ci-role", "type": "deployment", "owner": "platform",
		"capabilities": []string{"deploy"}, "environments": []string{"staging"}, "namespaces": []string{"shop-prod"},
		"principals": []string{"argocd:proj:shop:role:ci"}}, http.StatusCreated, nil)
	return a, srv
}

func runHook(t *testing.T, server, token, app string) (string, error) {
	t.Helper()
	out, _, err := runCLI(t, map[string]string{"AGENTGATE_HOOK_TOKEN": token}, "", "hook", "presync", "--server", server, "--app", app, "--poll", "100ms", "--wait", "20s")
	return out, err
}

// TestArgoCDPreSyncHook runs `admission hook presync` against a real server:
// a human's sync is allowed, a project role's production sync refused, an
// agent's production sync held then approved, and held then expired.
func TestArgoCDPreSyncHook(t *testing.T) {
	tests := []struct {
		name     string
		app      string
		token    string
		during   func(a *agentgate.App, e *e2e)
		wantExit int
		wantOut  string
	}{
		{name: "human sync is allowed", app: "shop.human", token: hookToken, wantOut: "agentgate: allowed"},
		{name: "project role out of scope is refused", app: "shop.project-role", token: hookToken, wantExit: exitDenied, wantOut: "scope.environment"},
		{name: "agent sync to production held, then approved", app: "shop.agent-account", token: hookToken,
			during: func(_ *agentgate.App, e *e2e) { approveFirstPending(e.t, e) }, wantOut: "allowed: approved by bootstrap-admin"},
		{name: "agent sync to production held, then expired", app: "shop.agent-account", token: hookToken,
			during: func(a *agentgate.App, _ *e2e) {
				time.Sleep(1500 * time.Millisecond)
				_, _ = a.Approvals.ExpireDue(context.Background())
			}, wantExit: exitDenied, wantOut: "expired by agentgate"},
		{name: "wrong hook token", app: "shop.human", token: "wrong-token-0123456789", wantExit: -1, wantOut: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, srv := newArgoE2E(t, tc.app)
			if tc.during != nil {
				go tc.during(a, &e2e{t: t, h: a.Server.Handler()})
			}
			out, err := runHook(t, srv.URL, tc.token, "shop")
			var ec exitCoder
			switch {
			case tc.wantExit == 0 && err != nil:
				t.Fatalf("err = %v\n%s", err, out)
			case tc.wantExit > 0 && (!errors.As(err, &ec) || ec.ExitCode() != tc.wantExit):
				t.Fatalf("err = %v, want exit %d\n%s", err, tc.wantExit, out)
			case tc.wantExit < 0 && (err == nil || !strings.Contains(err.Error(), "401")):
				t.Fatalf("err = %v, want a 401\n%s", err, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

// TestArgoWorkflowsAdmission posts AdmissionReviews as kube-apiserver does,
// including the real captured requests, and reads the AdmissionReview answers.
func TestArgoWorkflowsAdmission(t *testing.T) {
	a, srv := newArgoE2E(t, "shop.human")
	_ = a
	e := &e2e{t: t, h: srv.Config.Handler}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-bot", "type": "data-pipeline", "owner": "data-team",
		"capabilities": []string{"workflow"}, "namespaces": []string{"agents"}, "labels": map[string]string{"argo.service_accounts": "agent-runner"},
		"principals": []string{"k8s:system:serviceaccount:agents:claude-bot", "k8s:system:serviceaccount:payments:claude-bot"}}, http.StatusCreated, nil)
	review := func(body []byte, query string) (bool, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/argo/admission"+query, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		a := decodeAdmission(t, resp.StatusCode, raw)
		return a.Allowed, a.Message
	}
	if ok, msg := review(argoFixture(t, "admission", "workflow.create.agent.json"), "?timeout=10s"); !ok {
		t.Fatalf("agent workflow in its namespace refused: %s", msg)
	}
	if ok, msg := review(argoFixture(t, "admission", "workflow.create.denied-namespace.json"), "?timeout=10s"); ok || !strings.Contains(msg, "scope.namespace") {
		t.Fatalf("agent workflow outside its namespaces: allowed=%v %s", ok, msg)
	}
	if ok, msg := review(argoFixture(t, "admission", "workflow.create.denied-service-account.json"), ""); ok || !strings.Contains(msg, "scope.service_account") {
		t.Fatalf("a workflow naming a powerful service account: allowed=%v %s", ok, msg)
	}
	// The real kube-apiserver 1.36 requests (ConfigMaps: not governed).
	sc := bufio.NewScanner(bytes.NewReader(argoFixture(t, "captured", "kube-apiserver-1.36-admissionreview.jsonl")))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		var line struct {
			Path string          `json:"path"`
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || len(line.Body) == 0 {
			continue
		}
		query := ""
		if i := strings.Index(line.Path, "?"); i >= 0 {
			query = line.Path[i:]
		}
		if ok, msg := review(line.Body, query); !ok {
			t.Fatalf("captured request refused: %s", msg)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no captured request was replayed")
	}
}

// admission is what the kube-apiserver reads of an AdmissionReview answer.
type admission struct {
	Allowed  bool
	Message  string
	Warnings []string
}

// decodeAdmission reads an AdmissionReview v1 answer into the upstream
// type; anything but a 200 with a response carrying a uid fails the test.
func decodeAdmission(t *testing.T, status int, body []byte) admission {
	t.Helper()
	var rev admissionv1.AdmissionReview
	if status != http.StatusOK || json.Unmarshal(body, &rev) != nil || rev.Response == nil || rev.Response.UID == "" {
		t.Fatalf("admission answered %d: %s", status, body)
	}
	a := admission{Allowed: rev.Response.Allowed, Warnings: rev.Response.Warnings}
	if rev.Response.Result != nil {
		a.Message = rev.Response.Result.Message
	}
	return a
}

// admit posts an AdmissionReview to /argo/admission through handler h, as
// the kube-apiserver does with ?timeout=10s.
func admit(t *testing.T, h http.Handler, body []byte) admission {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/argo/admission?timeout=10s", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return decodeAdmission(t, rec.Code, rec.Body.Bytes())
}
