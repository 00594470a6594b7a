package app

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testutil/browsertest"
	"github.com/agentgate/agentgate/internal/testutil/oidcfake"
	"github.com/chromedp/chromedp"
)

// TestConsoleSingleSignOn runs the whole service with the console's single
// sign-on against a provider speaking OpenID Connect: a person signed in
// through it acts under their e-mail, an approvers entry naming one of
// their groups admits them, and the prompter rule knows their other name.
func TestConsoleSingleSignOn(t *testing.T) {
	idp := oidcfake.New(t, "agentgate", "oidc-client-secret-0123")
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.Load().(http.Handler).ServeHTTP(w, r) }))
	defer srv.Close()
	dir := copyBuiltin(t)
	settings := filepath.Join(dir, "data", "settings.yaml")
	b, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "      production:\n        - role:admin\n", "      production:\n        - release-managers\n", 1))
	if err := os.WriteFile(settings, b, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "sqlite", func(c *config.Config) {
		c.Policy.Dir = dir
		c.Console.OIDC = config.ConsoleOIDC{Issuer: idp.URL, ClientID: idp.ClientID, ClientSecret: config.NewSecret(idp.ClientSecret, "test"),
			RedirectURL: srv.URL + "/ui/oidc/callback", Roles: map[string]string{"engineering": "viewer", "sre": "operator"}}
	})
	handler.Store(h.h)
	h.provision(map[string]any{
		"name": "release-bot", "type": "deployment", "owner": "platform-team", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"staging", "production"},
		"principals": []string{"github-app:release-bot"},
	})
	prompted := deploy("github-app:release-bot", "production")
	prompted["trigger"] = map[string]any{"prompt": "ship it", "source": "slack", "triggered_by": "carol"}
	held := h.decide(prompted).Decisions[0].Approval
	if held == nil {
		t.Fatal("the production deploy was not held for approval")
	}

	signIn := func(claims map[string]any) (*http.Client, string) {
		t.Helper()
		idp.SignIn(claims)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.Get(srv.URL + "/ui/oidc/start")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/agents" {
			t.Fatalf("single sign-on ended at %s with %d:\n%.500s", resp.Request.URL, resp.StatusCode, body)
		}
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
		if m == nil {
			t.Fatal("no form token after signing in")
		}
		return c, string(m[1])
	}
	approve := func(c *http.Client, csrf, id string) (int, string) {
		t.Helper()
		resp, err := c.PostForm(srv.URL+"/ui/approvals/"+id+"/approve", url.Values{"csrf": {csrf}, "reason": {"looks fine"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}

	// Carol is a release manager, but she prompted the agent: the
	// provider's preferred_username is how the trigger knows her.
	carol, csrf := signIn(map[string]any{"email": "carol.s@example.com", "preferred_username": "carol", "groups": []any{"engineering", "release-managers"}})
	if code, body := approve(carol, csrf, held.ID); code != http.StatusForbidden || !strings.Contains(body, "prompted this agent") {
		t.Fatalf("the prompter's approval answered %d:\n%.800s", code, body)
	}
	// Dave is an operator, but not a release manager.
	dave, csrf := signIn(map[string]any{"email": "dave@example.com", "groups": []any{"sre"}})
	if code, _ := approve(dave, csrf, held.ID); code != http.StatusForbidden {
		t.Fatalf("an approval by someone the approvers do not name answered %d", code)
	}
	// Erin's group is named; she approves the change Carol prompted.
	erin, csrf := signIn(map[string]any{"email": "erin@example.com", "groups": []any{"engineering", "release-managers"}})
	if code, body := approve(erin, csrf, held.ID); code != http.StatusOK && code != http.StatusSeeOther {
		t.Fatalf("a release manager's approval answered %d:\n%.800s", code, body)
	}
	var ap struct {
		State      string `json:"state"`
		ResolvedBy string `json:"resolved_by"`
	}
	h.mustCall(http.MethodGet, "/api/v1/approvals/"+held.ID, viewerToken, nil, http.StatusOK, &ap)
	if ap.State != "approved" || ap.ResolvedBy != "erin@example.com" {
		t.Fatalf("approval after Erin = %+v", ap)
	}
	// The audit log names the people: the refusals and the approval.
	var recs struct {
		Items []struct {
			Actor   string `json:"actor"`
			Message string `json:"message"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?kind=approval", viewerToken, nil, http.StatusOK, &recs)
	actors := map[string]bool{}
	for _, r := range recs.Items {
		actors[r.Actor] = true
	}
	for _, who := range []string{"carol.s@example.com", "dave@example.com", "erin@example.com"} {
		if !actors[who] {
			t.Errorf("no approval record with actor %s in %+v", who, recs.Items)
		}
	}
}

// TestConsoleSingleSignOnInABrowser: in headless chromium, the sign-in
// page's single sign-on button goes to the provider and back, and the
// person lands signed in under their e-mail with their group's role.
func TestConsoleSingleSignOnInABrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	idp := oidcfake.New(t, "agentgate", "oidc-client-secret-0123")
	idp.SignIn(map[string]any{"email": "erin@example.com", "email_verified": true, "groups": []any{"sre"}})
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.Load().(http.Handler).ServeHTTP(w, r) }))
	defer srv.Close()
	h := newHarness(t, "sqlite", func(c *config.Config) {
		c.Console.OIDC = config.ConsoleOIDC{Issuer: idp.URL, ClientID: idp.ClientID, ClientSecret: config.NewSecret(idp.ClientSecret, "test"),
			RedirectURL: srv.URL + "/ui/oidc/callback", Roles: map[string]string{"sre": "operator"}, Label: "Sign in with Example SSO"}
	})
	handler.Store(h.h)
	h.provision(codingAgent("sso-bot"))
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/ui/login"),
		chromedp.WaitVisible(chromedp.ID("sso")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if label := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("sso"))); label != "Sign in with Example SSO" {
		t.Fatalf("single sign-on button says %q", label)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("sso")), chromedp.WaitVisible(chromedp.ID("agents"))); err != nil {
		t.Fatal(err)
	}
	who := browsertest.Run(t, ctx, chromedp.Text(chromedp.CSS("header .who")))
	if !strings.Contains(who, "erin@example.com (operator)") {
		t.Fatalf("signed in as %q", who)
	}
	if table := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("agents"))); !strings.Contains(table, "sso-bot") {
		t.Fatalf("agents page after single sign-on:\n%s", table)
	}
}
