package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/testutil/browsertest"
	"github.com/agentgate/agentgate/internal/testutil/oidcfake"
)

var screenshots = flag.String("screenshots", "", "write the console's screenshots into this directory (docs/images)")

// TestConsoleScreenshots regenerates the screenshots in docs/console.md
// from a real server holding agents, decisions of every outcome, a held
// production deploy, a kill switch, watched deployments and a rollback:
//
//	go test ./cmd/admission -run TestConsoleScreenshots -screenshots ../../docs/images
func TestConsoleScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("only with -screenshots DIR")
	}
	ctx := browsertest.Start(t)
	prom, _, ghSrv := rollbackFakes(t)
	idp := oidcfake.New(t, "agentgate-console", "console-oidc-secret")
	idp.SignIn(map[string]any{"email": "erin@example.com", "groups": []any{"sre"}})
	const generic = "generic-secret-0123456789"
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret, "ADMISSION_WEBHOOKS_GENERIC_SECRET": generic,
		"ADMISSION_GITHUB_TOKEN": "gh-test-token", "ADMISSION_GITHUB_BASE_URL": ghSrv.URL + "/",
		"ADMISSION_ROLLBACK_PROMETHEUS_URL": prom.URL,
		"ADMISSION_CONSOLE_OIDC_ISSUER":     idp.URL, "ADMISSION_CONSOLE_OIDC_CLIENT_ID": idp.ClientID,
		"ADMISSION_CONSOLE_OIDC_CLIENT_SECRET": idp.ClientSecret, "ADMISSION_CONSOLE_OIDC_REDIRECT_URL": srv.URL + "/ui/oidc/callback",
		"ADMISSION_CONSOLE_OIDC_ROLES": "sre=operator,platform-admins=admin", "ADMISSION_CONSOLE_OIDC_LABEL": "Sign in with Example SSO",
	})
	mux.Handle("/", a.Server.Handler())
	e := &e2e{t: t, h: a.Server.Handler(), api: ghSrv.URL + "/"}
	for _, spec := range []map[string]any{
		{"name": "ship-bot", "type": "deployment", "owner": "platform@example.com", "capabilities": []string{"deploy"},
			"environments": []string{"staging"}, "principals": []string{"github:Codertocat"}},
		{"name": "pay-coder", "type": "coding", "owner": "payments@example.com", "capabilities": []string{"build", "deploy"},
			"environments": []string{"staging", "preview-*"}, "principals": []string{"github:pay-coder[bot]"}, "labels": map[string]string{"team": "payments"}},
		{"name": "release-bot", "type": "deployment", "owner": "platform@example.com", "tier": "established", "capabilities": []string{"deploy"},
			"environments": []string{"staging", "production"}, "principals": []string{"github-app:release-bot"}},
		{"name": "test-runner", "type": "testing", "owner": "qa@example.com", "capabilities": []string{"build"}, "principals": []string{"github:test-runner[bot]"}},
	} {
		e.call(http.MethodPost, "/api/v1/agents", spec, http.StatusCreated, nil)
	}
	n := 0
	decide := func(ev map[string]any) {
		n++
		body, _ := json.Marshal(ev)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/generic", bytes.NewReader(body))
		req.Header.Set("X-Agentgate-Delivery", fmt.Sprintf("shot-%d", n))
		req.Header.Set("X-Agentgate-Signature-256", providers.SignHMACSHA256([]byte(generic), body))
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("decision %d: %d %s", n, rec.Code, rec.Body)
		}
	}
	build := func(principal string) map[string]any {
		return map[string]any{"kind": "build", "repo": "acme/payments", "sha": fmt.Sprintf("%07x", n*7919), "principal": principal,
			"trigger": map[string]any{"prompt": "fix the flaky checkout test", "source": "slack", "triggered_by": "dana"}}
	}
	for i := range 9 {
		decide(build("github:pay-coder[bot]"))
		if i%3 == 0 {
			decide(build("github:test-runner[bot]"))
		}
	}
	decide(map[string]any{"kind": "deploy", "repo": "acme/payments", "sha": "9f2c4e1", "environment": "production", "principal": "github:pay-coder[bot]"})
	decide(map[string]any{"kind": "deploy", "repo": "acme/api", "sha": "4f2c9e1", "environment": "production", "principal": "github-app:release-bot",
		"trigger": map[string]any{"prompt": "release 2.14", "source": "api", "triggered_by": "dana"}})
	e.call(http.MethodPost, "/api/v1/killswitches", map[string]any{"scope": "agent", "target": "test-runner", "reason": "retry storm on the shared runners"}, http.StatusCreated, nil)
	e.deliver("deployment_status", e.fixture("deployment_status.success"), true)
	time.Sleep(10 * time.Millisecond)
	e.deliver("deployment_status", e.fixture("deployment_status.success", "145988746", "145988747", "289782451", "289782452",
		"3484a3fb816e0859fd6e1cea078d76385ff50625", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), true)
	e.call(http.MethodPost, "/api/v1/rollbacks", map[string]any{"provider": "github", "repo": "acme/api", "environment": "staging",
		"reason": "checkout 5xx after the agent's deploy"}, http.StatusAccepted, nil)
	time.Sleep(300 * time.Millisecond)

	shoot := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, append(steps, chromedp.Sleep(300*time.Millisecond))...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		png := browsertest.Run(t, ctx, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	shoot("console-login", chromedp.Navigate(srv.URL+"/ui/login"), chromedp.WaitVisible(chromedp.ID("sso")))
	shoot("console-agents", chromedp.Click(chromedp.ID("sso")), chromedp.WaitVisible(chromedp.ID("agents")))
	shoot("console-overview", chromedp.Navigate(srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.ID("rate")))
	shoot("console-agent", chromedp.Navigate(srv.URL+"/ui/agents/pay-coder"), chromedp.WaitVisible(chromedp.ID("recent")))
	shoot("console-approvals", chromedp.Navigate(srv.URL+"/ui/approvals"), chromedp.WaitVisible(chromedp.ID("approvals")))
	shoot("console-killswitches", chromedp.Navigate(srv.URL+"/ui/killswitches"), chromedp.WaitVisible(chromedp.ID("killswitches")))
	shoot("console-audit", chromedp.Navigate(srv.URL+"/ui/audit?outcome=deny"), chromedp.WaitVisible(chromedp.ID("f-agent")))
	shoot("console-rollbacks", chromedp.Navigate(srv.URL+"/ui/rollbacks?all=1"), chromedp.WaitVisible(chromedp.ID("watches")))
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
}
