package main

import (
	"bytes"
	"encoding/json"
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
// cut the database off, with a coding agent (staging only), a deployment
// agent that may deploy to production, and an Argo data-pipeline agent.
type outageApp struct {
	e     *e2e
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
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_STORE_DRIVER": "postgres", "ADMISSION_STORE_POSTGRES_DSN": dsn.String(),
		"ADMISSION_WEBHOOKS_GENERIC_SECRET": outageGenericSecret, "ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret,
		"ADMISSION_ARGO_WATCH_ENABLED": "false",
	})
	o := &outageApp{e: &e2e{t: t, h: a.Server.Handler()}, proxy: proxy}
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "coder-bot", "type": "coding", "owner": "alice",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging"}, "principals": []string{"github:coder-bot[bot]"}}, http.StatusCreated, nil)
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "release-bot", "type": "deployment", "owner": "platform", "tier": "trusted",
		"capabilities": []string{"deploy"}, "environments": []string{"production"}, "principals": []string{"github-app:release-bot"}}, http.StatusCreated, nil)
	o.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-bot", "type": "data-pipeline", "owner": "data-team",
		"capabilities": []string{"workflow"}, "namespaces": []string{"agents"}, "labels": map[string]string{"argo.service_accounts": "agent-runner"},
		"principals": []string{"k8s:system:serviceaccount:agents:claude-bot"}}, http.StatusCreated, nil)
	return o
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
	t.Run("argo admission", func(t *testing.T) {
		a := admit(t, o.e.h, admissionRequest(t, "outage-review-1", "etl-outage-1"))
		if a.Allowed || !strings.Contains(a.Message, "audit store unavailable, decision not recorded") {
			t.Fatalf("a Workflow with the store down: allowed=%v %q, want refused saying why", a.Allowed, a.Message)
		}
	})
	o.recover(t)
	if rec := o.generic(map[string]any{"kind": "build", "repo": "acme/api", "principal": "github:coder-bot[bot]"}); rec.Code != http.StatusOK {
		t.Fatalf("after recovery: %d %s", rec.Code, rec.Body)
	}
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
	o.recover(t)
	var page struct {
		Items []struct {
			Principal string `json:"principal"`
		} `json:"items"`
	}
	o.e.call(http.MethodGet, "/api/v1/audit?kind=decision", nil, http.StatusOK, &page)
	for _, it := range page.Items {
		if it.Principal == "github-app:release-bot" {
			t.Fatal("a decision on the outage-time deploy was recorded")
		}
	}
	// The same deploy now gets its real answer.
	rec := o.generic(productionDeploy())
	if rec.Code != http.StatusOK {
		t.Fatalf("after recovery: %d %s", rec.Code, rec.Body)
	}
}
