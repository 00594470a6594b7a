package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

const (
	e2eAdmin  = "e2e-admin-token-0123456789"
	e2eSecret = "github-webhook-secret"
)

// fakeGitHub records the REST calls agentgate makes, and answers
// GET /repos/acme/api/actions/runs/{id} for the runs it knows.
type fakeGitHub struct {
	mu    sync.Mutex
	calls []string
	// runs are workflow runs by id, as the Actions API returns them.
	runs map[string]string
}

// addRun makes the fake know run id, triggered by the user login of the
// given type (User or Bot).
func (f *fakeGitHub) addRun(id, login, typ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs == nil {
		f.runs = map[string]string{}
	}
	user := fmt.Sprintf(`{"login": %q, "id": 1, "type": %q, "site_admin": false}`, login, typ)
	f.runs[id] = fmt.Sprintf(`{"id": %s, "name": "deploy", "event": "push", "status": "in_progress", "head_sha": "4f2c9e1", "run_attempt": 1, "actor": %s, "triggering_actor": %s}`, id, user, user)
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer gh-test-token" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if run, ok := strings.CutPrefix(r.URL.Path, "/repos/acme/api/actions/runs/"); ok && r.Method == http.MethodGet {
		f.mu.Lock()
		body, known := f.runs[run]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !known {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run"}`))
			return
		}
		_, _ = w.Write([]byte(body))
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/cancel"):
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{}`))
	case strings.HasSuffix(r.URL.Path, "/check-runs"):
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id": 1}`))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (f *fakeGitHub) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

// peek returns the calls so far without taking them.
func (f *fakeGitHub) peek() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// waitCalls waits for n calls (enforcement runs after the answer).
func (f *fakeGitHub) waitCalls(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		got := len(f.calls)
		f.mu.Unlock()
		if got >= n {
			time.Sleep(50 * time.Millisecond) // and no more than n
			return f.take()
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("GitHub saw %v, want %d calls", f.take(), n)
	return nil
}

type e2e struct {
	t   *testing.T
	h   http.Handler
	gh  *fakeGitHub
	api string
	n   int
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	gh := &fakeGitHub{}
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := map[string]string{
		"ADMISSION_DATA_DIR": dir, "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret, "ADMISSION_GITHUB_TOKEN": "gh-test-token",
		"ADMISSION_GITHUB_BASE_URL": srv.URL + "/",
	}
	a := startApp(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Dispatch.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &e2e{t: t, h: a.Server.Handler(), gh: gh, api: srv.URL + "/"}
}

func (e *e2e) call(method, path string, body any, want int, out any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != want {
		e.t.Fatalf("%s %s = %d: %s", method, path, rec.Code, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// fixture reads a GitHub payload from testdata/github, pointing its
// API URLs at the fake and applying replacements.
func (e *e2e) fixture(name string, replace ...string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(fixtures.Path("github", name+".json"))
	if err != nil {
		e.t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "https://api.github.com/", e.api)
	return []byte(strings.NewReplacer(replace...).Replace(s))
}

type ghAnswer struct {
	Decisions []struct {
		Outcome  string `json:"outcome"`
		Approval *struct {
			ID string `json:"id"`
		} `json:"approval"`
	} `json:"decisions"`
	Ignored string `json:"ignored"`
}

// deliver posts a signed GitHub webhook.
func (e *e2e) deliver(event string, body []byte, sign bool) (int, ghAnswer) {
	e.t.Helper()
	e.n++
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("e2e-%d", e.n))
	if sign {
		req.Header.Set("X-Hub-Signature-256", providers.SignHMACSHA256([]byte(e2eSecret), body))
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var a ghAnswer
	_ = json.Unmarshal(rec.Body.Bytes(), &a)
	return rec.Code, a
}

func TestGitHubEndToEnd(t *testing.T) {
	e := newE2E(t)
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "coder-bot", "type": "coding", "owner": "alice",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging"}, "principals": []string{"github:coder-bot[bot]"}}, http.StatusCreated, nil)
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "release-bot", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"production"}, "principals": []string{"github:release-bot[bot]"}}, http.StatusCreated, nil)

	run := e.fixture("workflow_run.requested.bot-trailers")
	if code, _ := e.deliver("workflow_run", run, false); code != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery = %d", code)
	}
	for i := 0; i < 20; i++ {
		if code, a := e.deliver("workflow_run", run, true); code != http.StatusOK || a.Decisions[0].Outcome != "allow" {
			t.Fatalf("build %d: %d %+v", i, code, a)
		}
	}
	if calls := e.gh.take(); len(calls) != 0 {
		t.Fatalf("allowed runs and a refused signature called GitHub: %v", calls)
	}
	if _, a := e.deliver("workflow_run", run, true); a.Decisions[0].Outcome != "deny" {
		t.Fatalf("21st build: %+v", a)
	}
	calls := e.gh.waitCalls(t, 2)
	if !strings.HasPrefix(calls[0], "POST /repos/acme/api/actions/runs/289782451/cancel") ||
		!strings.HasPrefix(calls[1], "POST /repos/acme/api/check-runs") || !strings.Contains(calls[1], "builds_per_hour") {
		t.Fatalf("over-quota run: GitHub saw %v", calls)
	}

	if _, a := e.deliver("workflow_run", e.fixture("workflow_run.requested.human"), true); a.Decisions[0].Outcome != "allow" {
		t.Fatalf("human run: %+v", a)
	}
	if _, a := e.deliver("ping", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`), true); a.Ignored == "" {
		t.Fatalf("ping: %+v", a)
	}

	gate := e.fixture("deployment_protection_rule.requested")
	if _, a := e.deliver("deployment_protection_rule", gate, true); a.Decisions[0].Outcome != "deny" {
		t.Fatalf("staging-only agent to production: %+v", a)
	}
	calls = e.gh.waitCalls(t, 1)
	if !strings.HasPrefix(calls[0], "POST /repos/acme/api/actions/runs/289782451/deployment_protection_rule") ||
		!strings.Contains(calls[0], `"state":"rejected"`) || !strings.Contains(calls[0], "scope.environment") {
		t.Fatalf("refused deployment: GitHub saw %v", calls)
	}

	held := e.fixture("deployment_protection_rule.requested", "coder-bot[bot]", "release-bot[bot]")
	_, a := e.deliver("deployment_protection_rule", held, true)
	if a.Decisions[0].Outcome != "approval_required" || a.Decisions[0].Approval == nil {
		t.Fatalf("held deployment: %+v", a)
	}
	time.Sleep(100 * time.Millisecond)
	if calls := e.gh.take(); len(calls) != 0 {
		t.Fatalf("a held deployment was answered: %v", calls)
	}
	e.call(http.MethodPost, "/api/v1/approvals/"+a.Decisions[0].Approval.ID+"/approve", map[string]any{"reason": "change 42"}, http.StatusOK, nil)
	calls = e.gh.waitCalls(t, 1)
	if !strings.Contains(calls[0], "/deployment_protection_rule") || !strings.Contains(calls[0], `"state":"approved"`) || !strings.Contains(calls[0], "change 42") {
		t.Fatalf("approved deployment: GitHub saw %v", calls)
	}
}
