package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/testutil/oidcfake"
)

// ssoConsole serves a console with single sign-on against a fake provider.
func ssoConsole(t *testing.T, roles map[string]string) (*httptest.Server, *oidcfake.Provider) {
	t.Helper()
	idp := oidcfake.New(t, "agentgate-console", "console-secret-0123456789")
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sso.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg := registry.New(registry.Options{Store: st})
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(Options{Authenticate: authenticate, Agents: reg, KillSwitches: regKills{reg}, Approvals: storeApprovals{st}, Audit: st,
		Actions: regActions{reg}, Key: testKey, OIDC: &OIDC{Issuer: idp.URL, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret,
			RedirectURL: srv.URL + CallbackPath, Roles: roles}})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", c)
	return srv, idp
}

var ssoRoles = map[string]string{"platform-admins": "admin", "sre": "operator", "engineering": "viewer"}

// ssoCallback starts a sign-in with c and returns the callback URL the
// provider sent the browser back to, not yet followed.
func ssoCallbackURL(t *testing.T, c *http.Client, srv *httptest.Server) *url.URL {
	t.Helper()
	resp, err := c.Get(srv.URL + "/ui/oidc/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("start answered %d", resp.StatusCode)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		!strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization request without PKCE, nonce, state or openid: %s", auth)
	}
	resp, err = c.Get(auth.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("provider answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back
}

// finish follows the callback and returns the status, the page it led to
// and the body.
func finish(t *testing.T, c *http.Client, callback string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func TestSingleSignOn(t *testing.T) {
	alice := map[string]any{"email": "alice@example.com", "email_verified": true, "preferred_username": "alice",
		"groups": []any{"engineering", "sre"}}
	tests := []struct {
		name   string
		claims map[string]any
		roles  map[string]string
		tamper func(map[string]any)
		// wantRole is the role signed in with; empty: refused with wantMsg.
		wantRole string
		wantMsg  string
	}{
		{name: "the highest role of the person's groups", claims: alice, wantRole: "operator"},
		{name: "a roles claim that is one string", claims: map[string]any{"email": "root@example.com", "groups": "platform-admins"}, wantRole: "admin"},
		{name: "a star gives everyone signed in a role", claims: map[string]any{"email": "new@example.com"},
			roles: map[string]string{"*": "viewer", "sre": "operator"}, wantRole: "viewer"},
		{name: "no group with a role", claims: map[string]any{"email": "eve@example.com", "groups": []any{"marketing"}},
			wantMsg: "none of your groups has a role"},
		{name: "a group spelt differently has no role", claims: map[string]any{"email": "eve@example.com", "groups": []any{"Platform-Admins", "sre "}},
			wantMsg: "none of your groups has a role"},
		{name: "an unverified e-mail", claims: map[string]any{"email": "alice@example.com", "email_verified": false, "groups": []any{"sre"}},
			wantMsg: "not verified"},
		{name: "no name claim", claims: map[string]any{"groups": []any{"sre"}}, wantMsg: "did not say who you are"},
		{name: "an ID token for another client", claims: alice, tamper: func(c map[string]any) { c["aud"] = "another-app" },
			wantMsg: "not valid for this console"},
		{name: "an ID token from another issuer", claims: alice, tamper: func(c map[string]any) { c["iss"] = "https://evil.example" },
			wantMsg: "not valid for this console"},
		{name: "an expired ID token", claims: alice, tamper: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() },
			wantMsg: "not valid for this console"},
		{name: "an ID token of another sign-in (nonce)", claims: alice, tamper: func(c map[string]any) { c["nonce"] = "someone-elses" },
			wantMsg: "not for this sign-in"},
		{name: "an ID token with no nonce", claims: alice, tamper: func(c map[string]any) { delete(c, "nonce") },
			wantMsg: "not for this sign-in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roles := tc.roles
			if roles == nil {
				roles = ssoRoles
			}
			srv, idp := ssoConsole(t, roles)
			idp.SignIn(tc.claims)
			idp.Tamper(tc.tamper)
			c := client(t)
			code, to, body := finish(t, c, ssoCallbackURL(t, c, srv).String())
			if tc.wantRole == "" {
				if code != http.StatusForbidden || !strings.Contains(body, tc.wantMsg) {
					t.Fatalf("refusal answered %d %q, want 403 saying %q:\n%s", code, to, tc.wantMsg, body)
				}
				if code, _, _ := get(t, c, srv.URL+"/ui/agents"); code != http.StatusSeeOther {
					t.Fatalf("after a refused sign-in the agents page answered %d, want the way to sign in", code)
				}
				return
			}
			if code != http.StatusSeeOther || to != "/ui/agents" {
				t.Fatalf("callback answered %d to %q:\n%s", code, to, body)
			}
			code, page, _ := get(t, c, srv.URL+"/ui/agents")
			want := tc.claims["email"].(string) + " (" + tc.wantRole + ")"
			if code != http.StatusOK || !strings.Contains(page, want) {
				t.Fatalf("agents page %d without %q:\n%s", code, want, page)
			}
		})
	}
}

// TestSingleSignOnBypass: each way around the sign-in must fail.
func TestSingleSignOnBypass(t *testing.T) {
	alice := map[string]any{"email": "alice@example.com", "groups": []any{"platform-admins"}}
	t.Run("a callback this browser did not start (login CSRF)", func(t *testing.T) {
		srv, idp := ssoConsole(t, ssoRoles)
		idp.SignIn(alice)
		attacker := client(t)
		callback := ssoCallbackURL(t, attacker, srv)
		victim := client(t)
		if code, _, body := finish(t, victim, callback.String()); code != http.StatusForbidden || !strings.Contains(body, "not started here") {
			t.Fatalf("a callback without the sign-in cookie answered %d:\n%s", code, body)
		}
		if n := idp.Exchanges(); n != 0 {
			t.Fatalf("the code was exchanged %d times for a browser that did not start the sign-in", n)
		}
	})
	t.Run("a state that is not the sign-in's", func(t *testing.T) {
		srv, idp := ssoConsole(t, ssoRoles)
		idp.SignIn(alice)
		c := client(t)
		callback := ssoCallbackURL(t, c, srv)
		q := callback.Query()
		q.Set("state", "guessed-state")
		callback.RawQuery = q.Encode()
		if code, _, _ := finish(t, c, callback.String()); code != http.StatusForbidden || idp.Exchanges() != 0 {
			t.Fatalf("a wrong state answered %d after %d exchanges", code, idp.Exchanges())
		}
	})
	t.Run("an ID token signed with a key the provider does not publish", func(t *testing.T) {
		srv, idp := ssoConsole(t, ssoRoles)
		idp.SignIn(alice)
		idp.SignWithOtherKey()
		c := client(t)
		if code, _, body := finish(t, c, ssoCallbackURL(t, c, srv).String()); code != http.StatusForbidden || !strings.Contains(body, "not valid for this console") {
			t.Fatalf("a forged ID token answered %d:\n%s", code, body)
		}
	})
	t.Run("a code replayed", func(t *testing.T) {
		srv, idp := ssoConsole(t, ssoRoles)
		idp.SignIn(alice)
		c := client(t)
		callback := ssoCallbackURL(t, c, srv)
		if code, _, _ := finish(t, c, callback.String()); code != http.StatusSeeOther {
			t.Fatalf("first use answered %d", code)
		}
		// The sign-in cookie went with the first use.
		if code, _, _ := finish(t, c, callback.String()); code != http.StatusForbidden {
			t.Fatalf("the same callback again answered %d", code)
		}
	})
	t.Run("the sign-in cookie passed off as a session", func(t *testing.T) {
		srv, idp := ssoConsole(t, ssoRoles)
		idp.SignIn(alice)
		c := client(t)
		ssoCallbackURL(t, c, srv)
		u, _ := url.Parse(srv.URL + "/ui/")
		var flow string
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == ssoCookie {
				flow = ck.Value
			}
		}
		if flow == "" {
			t.Fatal("no sign-in cookie")
		}
		c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: flow, Path: "/ui"}})
		if code, _, _ := get(t, c, srv.URL+"/ui/agents"); code != http.StatusSeeOther {
			t.Fatalf("the sign-in cookie as a session answered %d", code)
		}
	})
	t.Run("the provider refuses", func(t *testing.T) {
		srv, idp := ssoConsole(t, ssoRoles)
		idp.SignIn(nil)
		c := client(t)
		if code, _, body := finish(t, c, ssoCallbackURL(t, c, srv).String()); code != http.StatusForbidden || !strings.Contains(body, "access_denied") {
			t.Fatalf("access_denied answered %d:\n%s", code, body)
		}
	})
}

func TestSingleSignOnProviderDown(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "down.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := registry.New(registry.Options{Store: st})
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	c, err := New(Options{Authenticate: authenticate, Agents: reg, KillSwitches: regKills{reg}, Approvals: storeApprovals{st}, Audit: st,
		Actions: regActions{reg}, Key: testKey, OIDC: &OIDC{Issuer: down.URL, ClientID: "x", RedirectURL: "https://console.example" + CallbackPath,
			Roles: map[string]string{"*": "viewer"}}})
	if err != nil {
		t.Fatalf("a provider that is down stopped the console: %v", err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	code, body, _ := get(t, client(t), srv.URL+"/ui/login")
	if code != http.StatusOK || !strings.Contains(body, `href="/ui/oidc/start"`) {
		t.Fatalf("sign-in page %d without the single sign-on button", code)
	}
	if code, body, _ := get(t, client(t), srv.URL+"/ui/oidc/start"); code != http.StatusBadGateway || !strings.Contains(body, "could not be reached") {
		t.Fatalf("start with the provider down answered %d:\n%s", code, body)
	}
}

func TestSingleSignOnOptions(t *testing.T) {
	base := OIDC{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://console.example" + CallbackPath, Roles: map[string]string{"sre": "operator"}}
	tests := []struct {
		name    string
		mutate  func(o *OIDC)
		wantErr string
	}{
		{name: "valid", mutate: func(*OIDC) {}},
		{name: "no issuer", mutate: func(o *OIDC) { o.Issuer = "" }, wantErr: "issuer"},
		{name: "a redirect elsewhere", mutate: func(o *OIDC) { o.RedirectURL = "https://console.example/elsewhere" }, wantErr: CallbackPath},
		{name: "no roles", mutate: func(o *OIDC) { o.Roles = nil }, wantErr: "needs roles"},
		{name: "an unknown role", mutate: func(o *OIDC) { o.Roles = map[string]string{"sre": "root"} }, wantErr: `"root"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mutate(&o)
			_, err := newSSO(o)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("newSSO = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
