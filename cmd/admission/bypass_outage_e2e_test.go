package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/testutil/pgtest"
	"github.com/agentgate/agentgate/internal/testutil/tcpproxy"
)

const outageGenericSecret = "generic-outage-secret"

// outageApp is agentgate on PostgreSQL reached through a proxy that can
// cut the database off, with a coding agent (staging only), deployment
// agents that may deploy to production (by a generic event, a GitLab CI job
// and an Argo CD sync), and an Argo data-pipeline agent.
type outageApp struct {
	e     *e2e
	srv   *httptest.Server
	ids   *idTokens
	proxy *tcpproxy.Proxy
	n     int
}

func newOutageApp(t *testing.T) *outageApp {
	t.Helper()
	dsn, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.Start(t, dsn.Host)
	dsn.Host = proxy.Addr()
	q := dsn.Query()
	q.Set("connect_timeout", "2")
	dsn.RawQuery = q.Encode()
	ids := newIDTokens(t)
	argocd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer argocd-token" || r.URL.Path != "/api/v1/applications/shop" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(argoFixture(t, "argocd", "shop.agent-account.json"))
	}))
	t.Cleanup(argocd.Close)
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_STORE_DRIVER": "postgres", "ADMISSION_STORE_POSTGRES_DSN": dsn.String(),
		"ADMISSION_WEBHOOKS_GENERIC_SECRET": outageGenericSecret, "ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret,
		"ADMISSION_WEBHOOKS_GITLAB_TOKEN": glHookToken,
		"ADMISSION_GITLAB_BASE_URL":       ids.srv.URL, "ADMISSION_GITLAB_OIDC_AUDIENCE": gateAudience,
		"ADMISSION_ARGO_HOOK_TOKEN": hookToken, "ADMISSION_ARGO_ARGOCD_URL": argocd.URL, "ADMISSION_ARGO_ARGOCD_TOKEN": "argocd-token",
		"ADMISSION_ARGO_WATCH_ENABLED": "false",
	})
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	o := &outageApp{e: &e2e{t: t, h: a.Server.Handler()}, srv: srv, ids: ids, proxy: proxy}
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "coder-bot", "type": "coding", "owner": "alice",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging"},
		"principals": []string{"github:coder-bot[bot]", "gitlab:project_42_bot_5f3a9c"}}, http.StatusCreated, nil)
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "release-bot", "type": "deployment", "owner": "platform", "tier": "trusted",
		"capabilities": []string{"deploy"}, "environments": []string{"production"}, "principals": []string{"github-app:release-bot"}}, http.StatusCreated, nil)
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "deploy-bot", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"staging", "production"}, "principals": []string{"gitlab:project_42_bot_deploy"}}, http.StatusCreated, nil)
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-deployer", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"production", "shop-prod"}, "namespaces": []string{"shop-prod"},
		"principals": []string{"argocd:claude-deployer"}}, http.StatusCreated, nil)
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-bot", "type": "data-pipeline", "owner": "data-team",
		"capabilities": []string{"workflow"}, "namespaces": []string{"agents"}, "labels": map[string]string{"argo.service_accounts": "agent-runner"},
		"principals": []string{"k8s:system:serviceaccount:agents:claude-bot"}}, http.StatusCreated, nil)
	return o
}

// gitlab posts a GitLab pipeline hook as GitLab does.
func (o *outageApp) gitlab(body []byte) *httptest.ResponseRecorder {
	o.n++
	req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab", bytes.NewReader(body))
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("X-Gitlab-Event-UUID", fmt.Sprintf("outage-gl-%d", o.n))
	req.Header.Set("X-Gitlab-Token", glHookToken)
	rec := httptest.NewRecorder()
	o.e.h.ServeHTTP(rec, req)
	return rec
}

// waitingClient runs a CI client command (admission gate or admission hook
// presync) that may wait two seconds for an answer.
func (o *outageApp) waitingClient(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--server", o.srv.URL, "--poll", "200ms", "--wait", "2s")
	out, _, err := runCLI(t, env, "", args...)
	return out, err
}

// assertNotProceeding checks that a CI client gave up without proceeding
// and said why.
func assertNotProceeding(t *testing.T, what, out string, err error) {
	t.Helper()
	var ec exitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != exitTimeout || strings.Contains(out, "agentgate: allowed") ||
		!strings.Contains(out, "audit store unavailable, decision not recorded") {
		t.Fatalf("%s with the store down: err = %v, want exit %d having said why\n%s", what, err, exitTimeout, out)
	}
}

// generic posts a signed normalized event.
func (o *outageApp) generic(ev map[string]any) *httptest.ResponseRecorder {
	o.n++
	body, _ := json.Marshal(ev)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/generic", bytes.NewReader(body))
	req.Header.Set("X-Agentgate-Delivery", fmt.Sprintf("outage-%d", o.n))
	req.Header.Set("X-Agentgate-Signature-256", providers.SignHMACSHA256([]byte(outageGenericSecret), body))
	rec := httptest.NewRecorder()
	o.e.h.ServeHTTP(rec, req)
	return rec
}

func productionDeploy() map[string]any {
	return map[string]any{"kind": "deploy", "repo": "acme/api", "sha": "4f2c9e1", "environment": "production", "principal": "github-app:release-bot"}
}

// assertStoreDown checks a 503 that says why and when to come back.
func assertStoreDown(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusServiceUnavailable || body.Error.Code != "unavailable" ||
		!strings.Contains(body.Error.Message, "audit store unavailable, decision not recorded") || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%s with the store down = %d %s (Retry-After %q), want 503 saying the decision was not recorded",
			what, rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
}

// recover restores the database and waits until decisions are recorded.
func (o *outageApp) recover(t *testing.T) {
	t.Helper()
	o.proxy.Restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec := o.generic(map[string]any{"kind": "build", "repo": "acme/api", "principal": "github:octocat"})
		if rec.Code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the store came back: %d %s", rec.Code, rec.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStoreOutage503RetryAfter(t *testing.T) {
	o := newOutageApp(t)
	o.proxy.Cut()
	t.Run("generic webhook", func(t *testing.T) {
		assertStoreDown(t, "a build", o.generic(map[string]any{"kind": "build", "repo": "acme/api", "principal": "github:coder-bot[bot]"}))
		assertStoreDown(t, "a person's build", o.generic(map[string]any{"kind": "build", "repo": "acme/api", "principal": "github:octocat"}))
	})
	t.Run("github webhook", func(t *testing.T) {
		body := (&e2e{t: t, api: "http://127.0.0.1:1/"}).fixture("workflow_run.requested.bot-trailers")
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "workflow_run")
		req.Header.Set("X-GitHub-Delivery", "outage-gh-1")
		req.Header.Set("X-Hub-Signature-256", providers.SignHMACSHA256([]byte(e2eSecret), body))
		rec := httptest.NewRecorder()
		o.e.h.ServeHTTP(rec, req)
		assertStoreDown(t, "a workflow run", rec)
	})
	t.Run("gitlab webhook", func(t *testing.T) {
		assertStoreDown(t, "an agent pipeline", o.gitlab(glFixture(t, "pipeline.pending.bot-variables")))
		assertStoreDown(t, "a person's pipeline", o.gitlab(glFixture(t, "pipeline.pending.human")))
	})
	t.Run("gitlab gate", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/gitlab/gate", nil)
		req.Header.Set("Authorization", "Bearer "+o.ids.token(t, "project_42_bot_deploy", "staging"))
		rec := httptest.NewRecorder()
		o.e.h.ServeHTTP(rec, req)
		assertStoreDown(t, "a staging job's gate", rec)
	})
	t.Run("argo cd hook gate", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/argo/presync", nil)
		req.Header.Set("Authorization", "Bearer "+hookToken)
		req.Header.Set("X-Agentgate-Application", "shop")
		rec := httptest.NewRecorder()
		o.e.h.ServeHTTP(rec, req)
		assertStoreDown(t, "a sync's presync hook", rec)
	})
	t.Run("argo admission", func(t *testing.T) {
		a := admit(t, o.e.h, admissionRequest(t, "outage-review-1", "etl-outage-1"))
		if a.Allowed || !strings.Contains(a.Message, "audit store unavailable, decision not recorded") {
			t.Fatalf("a Workflow with the store down: allowed=%v %q, want refused saying why", a.Allowed, a.Message)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		var body struct{ Status, Store string }
		o.e.call(http.MethodGet, "/readyz", nil, http.StatusServiceUnavailable, &body)
		if body.Status != "not ready" || body.Store != "unreachable" {
			t.Fatalf("readyz with the store down = %+v", body)
		}
	})
	o.recover(t)
	if rec := o.generic(map[string]any{"kind": "build", "repo": "acme/api", "principal": "github:coder-bot[bot]"}); rec.Code != http.StatusOK {
		t.Fatalf("after recovery: %d %s", rec.Code, rec.Body)
	}
	if rec := o.gitlab(glFixture(t, "pipeline.pending.bot-variables")); rec.Code != http.StatusOK {
		t.Fatalf("a pipeline after recovery: %d %s", rec.Code, rec.Body)
	}
	o.e.call(http.MethodGet, "/readyz", nil, http.StatusOK, nil)
}

// TestBypassStoreOutageProductionFailsClosed: an agent's production deploy
// while the store is down is never allowed, whichever way it comes, and
// nothing of it is recorded as decided.
func TestBypassStoreOutageProductionFailsClosed(t *testing.T) {
	o := newOutageApp(t)
	o.proxy.Cut()
	for i := range 3 { // retries do not wear it down
		assertStoreDown(t, fmt.Sprintf("production deploy, try %d", i+1), o.generic(productionDeploy()))
	}
	if a := admit(t, o.e.h, admissionRequest(t, "outage-review-2", "etl-outage-2")); a.Allowed {
		t.Fatal("a Workflow was admitted with the store down")
	}
	gateToken := o.ids.token(t, "project_42_bot_deploy", "production")
	out, err := o.waitingClient(t, map[string]string{"AGENTGATE_ID_TOKEN": gateToken}, "gate")
	assertNotProceeding(t, "a GitLab production job's admission gate", out, err)
	out, err = o.waitingClient(t, map[string]string{"AGENTGATE_HOOK_TOKEN": hookToken}, "hook", "presync", "--app", "shop")
	assertNotProceeding(t, "an agent's production sync's presync hook", out, err)
	o.recover(t)
	var page struct {
		Items []struct {
			Principal string `json:"principal"`
		} `json:"items"`
	}
	o.e.call(http.MethodGet, "/api/v1/audit?kind=decision", nil, http.StatusOK, &page)
	for _, it := range page.Items {
		switch it.Principal {
		case "github-app:release-bot", "gitlab:project_42_bot_deploy", "argocd:claude-deployer":
			t.Fatalf("a decision on an outage-time production change of %s was recorded", it.Principal)
		}
	}
	// The same changes now get their real answers.
	if rec := o.generic(productionDeploy()); rec.Code != http.StatusOK {
		t.Fatalf("after recovery: %d %s", rec.Code, rec.Body)
	}
	req := httptest.NewRequest(http.MethodPost, "/gitlab/gate", nil)
	req.Header.Set("Authorization", "Bearer "+gateToken)
	rec := httptest.NewRecorder()
	o.e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("the production job's gate after recovery = %d %s, want 202 held for a person", rec.Code, rec.Body)
	}
}
