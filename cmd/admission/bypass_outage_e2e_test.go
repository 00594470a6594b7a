package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/testutil/pgtest"
	"github.com/agentgate/agentgate/internal/testutil/tcpproxy"
)

const outageGenericSecret = "generic-outage-secret"

// gateStoreDown is what every answer says while the store is away.
const gateStoreDown = gate.ErrStoreDown

// outage is one way the audit store goes away: its store settings, and
// how to take the store away and bring it back.
type outage struct {
	name string
	// store returns the store's environment and the cut and restore of
	// this outage.
	store func(t *testing.T, dataDir string) (env map[string]string, cut, restore func())
}

// pgCut is PostgreSQL behind a proxy that drops every connection and
// refuses new ones: the database server is down.
var pgCut = outage{name: "postgres down", store: func(t *testing.T, _ string) (map[string]string, func(), func()) {
	proxy, dsn := proxiedPostgres(t, "2")
	return map[string]string{"ADMISSION_STORE_DRIVER": "postgres", "ADMISSION_STORE_POSTGRES_DSN": dsn}, proxy.Cut, proxy.Restore
}}

// pgStalled is PostgreSQL behind a proxy that answers nothing: the network
// drops packets, and each request runs into its own deadline.
var pgStalled = outage{name: "postgres unanswering", store: func(t *testing.T, _ string) (map[string]string, func(), func()) {
	proxy, dsn := proxiedPostgres(t, "30")
	return map[string]string{"ADMISSION_STORE_DRIVER": "postgres", "ADMISSION_STORE_POSTGRES_DSN": dsn,
		"ADMISSION_SERVER_REQUEST_TIMEOUT": "2s"}, proxy.Stall, proxy.Restore
}}

// sqliteLocked is SQLite whose file another process keeps write-locked
// (a sqlite3 shell or a backup tool with a transaction open).
var sqliteLocked = outage{name: "sqlite locked", store: func(t *testing.T, dataDir string) (map[string]string, func(), func()) {
	var conn *sql.Conn
	cut := func() {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "agentgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if conn, err = db.Conn(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		_ = conn.Close()
	}
	return map[string]string{"ADMISSION_STORE_SQLITE_BUSY_TIMEOUT": "300ms"}, cut, restore
}}

// proxiedPostgres is the test database reached through a proxy.
func proxiedPostgres(t *testing.T, connectTimeout string) (*tcpproxy.Proxy, string) {
	t.Helper()
	dsn, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.Start(t, dsn.Host)
	dsn.Host = proxy.Addr()
	q := dsn.Query()
	q.Set("connect_timeout", connectTimeout)
	dsn.RawQuery = q.Encode()
	return proxy, dsn.String()
}

// outageApp is agentgate on a store that can be taken away, with a coding
// agent (staging only), deployment agents that may deploy to production
// (by a generic event, a GitLab CI job and an Argo CD sync), and an Argo
// data-pipeline agent.
type outageApp struct {
	e            *e2e
	srv          *httptest.Server
	ids          *idTokens
	cut, restore func()
	n            int
}

func newOutageApp(t *testing.T, o outage) *outageApp {
	t.Helper()
	dataDir := t.TempDir()
	storeEnv, cut, restore := o.store(t, dataDir)
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
	env := map[string]string{
		"ADMISSION_DATA_DIR": dataDir, "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_WEBHOOKS_GENERIC_SECRET": outageGenericSecret, "ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret,
		"ADMISSION_WEBHOOKS_GITLAB_TOKEN": glHookToken,
		"ADMISSION_GITLAB_BASE_URL":       ids.srv.URL, "ADMISSION_GITLAB_OIDC_AUDIENCE": gateAudience,
		"ADMISSION_ARGO_HOOK_TOKEN": hookToken, "ADMISSION_ARGO_ARGOCD_URL": argocd.URL, "ADMISSION_ARGO_ARGOCD_TOKEN": "argocd-token",
		"ADMISSION_ARGO_WATCH_ENABLED": "false",
	}
	for k, v := range storeEnv {
		env[k] = v
	}
	a := startApp(t, env)
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	app := &outageApp{e: &e2e{t: t, h: a.Server.Handler()}, srv: srv, ids: ids, cut: cut, restore: restore}
	app.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "coder-bot", "type": "coding", "owner": "alice",
		"capabilities": []string{"build", "deploy"}, "environments": []string{"staging"},
		"principals": []string{"github:coder-bot[bot]", "gitlab:project_42_bot_5f3a9c"}}, http.StatusCreated, nil)
	app.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "release-bot", "type": "deployment", "owner": "platform", "tier": "trusted",
		"capabilities": []string{"deploy"}, "environments": []string{"production"}, "principals": []string{"github-app:release-bot"}}, http.StatusCreated, nil)
	app.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "deploy-bot", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"staging", "production"}, "principals": []string{"gitlab:project_42_bot_deploy"}}, http.StatusCreated, nil)
	app.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-deployer", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"production", "shop-prod"}, "namespaces": []string{"shop-prod"},
		"principals": []string{"argocd:claude-deployer"}}, http.StatusCreated, nil)
	app.e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-bot", "type": "data-pipeline", "owner": "data-team",
		"capabilities": []string{"workflow"}, "namespaces": []string{"agents"}, "labels": map[string]string{"argo.service_accounts": "agent-runner"},
		"principals": []string{"k8s:system:serviceaccount:agents:claude-bot"}}, http.StatusCreated, nil)
	return app
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
		!strings.Contains(out, gateStoreDown) {
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
		!strings.Contains(body.Error.Message, gateStoreDown) || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%s with the store down = %d %s (Retry-After %q), want 503 saying the decision was not recorded",
			what, rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
}

// recover restores the database and waits until decisions are recorded.
func (o *outageApp) recover(t *testing.T) {
	t.Helper()
	o.restore()
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

// TestStoreOutage503RetryAfter: with the store down every webhook and gate
// says so (503, the reason, Retry-After), the Argo admission review is
// refused with the reason, /readyz reports the store, and all of it works
// again once the store is back.
func TestStoreOutage503RetryAfter(t *testing.T) {
	for _, oc := range []outage{pgCut, sqliteLocked} {
		t.Run(oc.name, func(t *testing.T) { testStoreOutage503RetryAfter(t, oc) })
	}
}

func testStoreOutage503RetryAfter(t *testing.T, oc outage) {
	o := newOutageApp(t, oc)
	o.cut()
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
		if a.Allowed || !strings.Contains(a.Message, gateStoreDown) {
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
// while the store is down, locked or not answering is never allowed,
// whichever way it comes (a webhook, an admission review, a CI job's gate,
// an Argo CD sync's hook), and nothing of it is recorded as decided.
func TestBypassStoreOutageProductionFailsClosed(t *testing.T) {
	tests := []struct {
		outage outage
		tries  int  // how often the webhook is sent again
		ci     bool // also run the CI clients, which wait 2s
	}{
		{outage: pgCut, tries: 3, ci: true},
		{outage: sqliteLocked, tries: 3, ci: true},
		{outage: pgStalled, tries: 1},
	}
	for _, tc := range tests {
		t.Run(tc.outage.name, func(t *testing.T) {
			o := newOutageApp(t, tc.outage)
			o.cut()
			for i := range tc.tries { // retries do not wear it down
				assertStoreDown(t, fmt.Sprintf("production deploy, try %d", i+1), o.generic(productionDeploy()))
			}
			start := time.Now()
			req := httptest.NewRequest(http.MethodPost, "/argo/admission?timeout=3s", bytes.NewReader(admissionRequest(t, "outage-review-2", "etl-outage-2")))
			rec := httptest.NewRecorder()
			o.e.h.ServeHTTP(rec, req)
			if a := decodeAdmission(t, rec.Code, rec.Body.Bytes()); a.Allowed || !strings.Contains(a.Message, gateStoreDown) {
				t.Fatalf("a Workflow with the store down: allowed=%v %q", a.Allowed, a.Message)
			}
			if took := time.Since(start); took >= 3*time.Second {
				t.Fatalf("the review was answered after %s, past the apiserver's timeout: its failurePolicy would decide", took)
			}
			gateToken := o.ids.token(t, "project_42_bot_deploy", "production")
			if tc.ci {
				out, err := o.waitingClient(t, map[string]string{"AGENTGATE_ID_TOKEN": gateToken}, "gate")
				assertNotProceeding(t, "a GitLab production job's admission gate", out, err)
				out, err = o.waitingClient(t, map[string]string{"AGENTGATE_HOOK_TOKEN": hookToken}, "hook", "presync", "--app", "shop")
				assertNotProceeding(t, "an agent's production sync's presync hook", out, err)
				// A client that gave up may leave its last request waiting
				// on the store (SQLite's busy timeout); close the listener,
				// which waits for it, so that it is refused before the
				// store comes back rather than decided after.
				o.srv.Close()
			}
			o.recover(t)
			testNothingDecidedDuringOutage(t, o, gateToken)
		})
	}
}

// testNothingDecidedDuringOutage checks, once the store is back, that no
// decision on the outage-time production changes was recorded and that
// they now get their real answers.
func testNothingDecidedDuringOutage(t *testing.T, o *outageApp, gateToken string) {
	t.Helper()
	var page struct {
		Items []struct {
			Principal string `json:"principal"`
		} `json:"items"`
	}
	o.e.call(http.MethodGet, "/api/v1/audit?kind=decision&limit=500", nil, http.StatusOK, &page)
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
