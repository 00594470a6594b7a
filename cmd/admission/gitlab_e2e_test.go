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

	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

const glHookToken = "gitlab-hook-token"

// fakeGitLab records GitLab API calls and answers them as GitLab does.
type fakeGitLab struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("PRIVATE-TOKEN") != "glpat-test" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"401 Unauthorized"}`))
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/cancel"):
		_, _ = w.Write([]byte(`{"id":1031,"status":"canceled"}`))
	default:
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":1}`))
	}
}

func (f *fakeGitLab) waitCalls(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		got := len(f.calls)
		f.mu.Unlock()
		if got >= n {
			time.Sleep(50 * time.Millisecond)
			f.mu.Lock()
			defer f.mu.Unlock()
			out := f.calls
			f.calls = nil
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t.Fatalf("GitLab saw %v, want %d calls", f.calls, n)
	return nil
}

func glFixture(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path("gitlab", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(b)))
}

// TestGitLabEndToEnd: an over-quota agent pipeline is cancelled, a
// staging-only agent's production deployment is rejected, a gated one is
// approved through the approvals API, humans and bad tokens change nothing.
func TestGitLabEndToEnd(t *testing.T) {
	gl := &fakeGitLab{}
	srv := httptest.NewServer(gl)
	t.Cleanup(srv.Close)
	env := map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_WEBHOOKS_GITLAB_TOKEN": glHookToken, "ADMISSION_GITLAB_API_TOKEN": "glpat-test",
		"ADMISSION_GITLAB_BASE_URL": srv.URL,
	}
	a := startApp(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Dispatch.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e := &e2e{t: t, h: a.Server.Handler()}
	n := 0
	deliver := func(event string, body []byte, token string) (int, ghAnswer) {
		n++
		req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab", bytes.NewReader(body))
		req.Header.Set("X-Gitlab-Event", event)
		req.Header.Set("X-Gitlab-Event-UUID", fmt.Sprintf("uuid-%d", n))
		req.Header.Set("X-Gitlab-Token", token)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		var ans ghAnswer
		_ = json.Unmarshal(rec.Body.Bytes(), &ans)
		return rec.Code, ans
	}

	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "coder-bot", "type": "coding", "owner": "alice",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging"}, "principals": []string{"gitlab:project_42_bot_5f3a9c"}}, http.StatusCreated, nil)
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "deploy-bot", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"production"}, "principals": []string{"gitlab:project_42_bot_deploy"}}, http.StatusCreated, nil)

	pipeline := glFixture(t, "pipeline.pending.bot-variables")
	if code, _ := deliver("Pipeline Hook", pipeline, "wrong-token"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token = %d", code)
	}
	for i := 0; i < 20; i++ {
		if code, ans := deliver("Pipeline Hook", pipeline, glHookToken); code != http.StatusOK || ans.Decisions[0].Outcome != "allow" {
			t.Fatalf("pipeline %d: %d %+v", i, code, ans)
		}
	}
	if _, ans := deliver("Pipeline Hook", glFixture(t, "pipeline.pending.human"), glHookToken); ans.Decisions[0].Outcome != "allow" {
		t.Fatalf("human pipeline: %+v", ans)
	}
	time.Sleep(100 * time.Millisecond)
	if calls := gl.waitCalls(t, 0); len(calls) != 0 {
		t.Fatalf("allowed and human pipelines called GitLab: %v", calls)
	}
	if _, ans := deliver("Pipeline Hook", pipeline, glHookToken); ans.Decisions[0].Outcome != "deny" {
		t.Fatalf("21st pipeline: %+v", ans)
	}
	calls := gl.waitCalls(t, 2)
	if !strings.HasPrefix(calls[0], "POST /api/v4/projects/42/pipelines/1031/cancel") ||
		!strings.Contains(calls[1], "/api/v4/projects/42/statuses/bcbb5ec396a2c0f828686f14fac9b80b780504f2") || !strings.Contains(calls[1], "builds_per_hour") {
		t.Fatalf("over-quota pipeline: GitLab saw %v", calls)
	}

	if _, ans := deliver("Deployment Hook", glFixture(t, "deployment.blocked.bot"), glHookToken); ans.Decisions[0].Outcome != "deny" {
		t.Fatalf("staging-only agent to production: %+v", ans)
	}
	calls = gl.waitCalls(t, 1)
	if !strings.HasPrefix(calls[0], "POST /api/v4/projects/42/deployments/15/approval") || !strings.Contains(calls[0], `"status":"rejected"`) {
		t.Fatalf("refused deployment: GitLab saw %v", calls)
	}

	_, ans := deliver("Deployment Hook", glFixture(t, "deployment.blocked.bot", "project_42_bot_5f3a9c", "project_42_bot_deploy"), glHookToken)
	if ans.Decisions[0].Outcome != "approval_required" {
		t.Fatalf("gated deployment: %+v", ans)
	}
	e.call(http.MethodPost, "/api/v1/approvals/"+ans.Decisions[0].Approval.ID+"/approve", map[string]any{"reason": "change 7"}, http.StatusOK, nil)
	calls = gl.waitCalls(t, 1)
	if !strings.HasPrefix(calls[0], "POST /api/v4/projects/42/deployments/15/approval") || !strings.Contains(calls[0], `"status":"approved"`) || !strings.Contains(calls[0], "change 7") {
		t.Fatalf("approved deployment: GitLab saw %v", calls)
	}
}
