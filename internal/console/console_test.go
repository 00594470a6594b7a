package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
)

const (
	viewerToken = "viewer-token-0123456789"
	agentToken  = "agent-token-0123456789"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func authenticate(_ context.Context, token string) (Person, error) {
	switch token {
	case viewerToken:
		return Person{Name: "auditor", Role: "viewer"}, nil
	case agentToken:
		return Person{}, ErrAgentToken
	}
	return Person{}, errors.New("invalid token")
}

// regKills is the registry's kill switches with no role rules (the
// server applies those; internal/app tests them through the console).
type regKills struct{ r *registry.Service }

func (k regKills) List(ctx context.Context, activeOnly bool) ([]store.KillSwitch, error) {
	return k.r.KillSwitches(ctx, activeOnly)
}

func (k regKills) Engage(ctx context.Context, p Person, r KillRequest) (store.KillSwitch, error) {
	ks, _, err := k.r.Engage(ctx, p.Name, registry.KillRequest{Scope: r.Scope, Target: r.Target, Reason: r.Reason})
	return ks, err
}

func (k regKills) Release(ctx context.Context, p Person, id, reason string) (store.KillSwitch, error) {
	return k.r.Release(ctx, p.Name, id, reason)
}

// storeApprovals lists approvals from the store; resolving is tested
// through the whole service (internal/app), where the approval rules are.
type storeApprovals struct{ st store.Store }

func (a storeApprovals) List(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	return a.st.ListApprovals(ctx, f)
}

func (a storeApprovals) Resolve(context.Context, Person, string, bool, string) (store.Approval, error) {
	return store.Approval{}, errors.New("not in the console's own tests")
}

// regActions suspends and resumes through the registry with no role
// rules (internal/app tests the roles through the whole service).
type regActions struct{ r *registry.Service }

func (a regActions) Act(ctx context.Context, p Person, action, id, reason string) error {
	var err error
	switch action {
	case ActionSuspend:
		_, err = a.r.Suspend(ctx, p.Name, id, reason)
	case ActionResume:
		_, err = a.r.Resume(ctx, p.Name, id, reason)
	default:
		err = errors.New("not in the console's own tests")
	}
	return err
}

// newConsole serves a console over a registry on SQLite holding one agent.
func newConsole(t *testing.T, now func() time.Time) (*httptest.Server, *registry.Service) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "console.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg := registry.New(registry.Options{Store: st})
	if _, _, err := reg.Provision(t.Context(), "test", registry.Spec{Name: "pay-coder", Type: "coding", Owner: "payments@example.com",
		Capabilities: []string{"build"}, Environments: []string{"staging"}, Principals: []string{"github:pay-coder[bot]"}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Authenticate: authenticate, Agents: reg, KillSwitches: regKills{reg}, Approvals: storeApprovals{st}, Audit: st, Actions: regActions{reg}, Key: testKey, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, reg
}

func TestSessions(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := sealer{key: testKey}
	good, err := s.seal(session{Name: "alice", Role: "admin", Expires: now.Add(time.Hour).Unix(), CSRF: "c"})
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(good, ".")
	forged, _ := s.seal(session{Name: "alice", Role: "admin", Expires: now.Add(time.Hour).Unix(), CSRF: "c"})
	other, _ := sealer{key: []byte(strings.Repeat("k", 32))}.seal(session{Name: "alice", Role: "admin", Expires: now.Add(time.Hour).Unix(), CSRF: "c"})
	tests := []struct {
		name  string
		value string
		at    time.Time
		ok    bool
	}{
		{name: "valid", value: good, at: now, ok: true},
		{name: "expired", value: good, at: now.Add(time.Hour)},
		{name: "role raised in the payload", value: strings.Replace(payload, payload, encodeJSON(t, `{"n":"alice","r":"admin","e":1800003600,"c":"c","x":1}`), 1) + "." + sig, at: now},
		{name: "signature of another payload", value: payload + "." + strings.Split(forged, ".")[1][:10] + "AAAA", at: now},
		{name: "signed with another key", value: other, at: now},
		{name: "no signature", value: payload, at: now},
		{name: "garbage", value: "%%%.%%%", at: now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.open(tc.value, tc.at)
			if (err == nil) != tc.ok {
				t.Fatalf("open = %+v, %v; want ok %v", got, err, tc.ok)
			}
		})
	}
}

func encodeJSON(t *testing.T, s string) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// client is a browser-like client: it keeps cookies and does not follow
// redirects, so the tests see them.
func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a page and returns its status, body and form token.
func get(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	token := ""
	if m := csrfField.FindStringSubmatch(string(b)); m != nil {
		token = m[1]
	}
	return resp.StatusCode, string(b), token
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSignInAndOut(t *testing.T) {
	srv, _ := newConsole(t, nil)
	c := client(t)
	if code, _, _ := get(t, c, srv.URL+"/ui/agents"); code != http.StatusSeeOther {
		t.Fatalf("agents without a session answered %d, want a redirect to sign in", code)
	}
	_, _, token := get(t, c, srv.URL+"/ui/login")
	if token == "" {
		t.Fatal("the sign-in form has no CSRF token")
	}
	resp, _ := post(t, c, srv.URL+"/ui/login", url.Values{"csrf": {token}, "token": {viewerToken}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/agents" {
		t.Fatalf("sign-in answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ses *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			ses = ck
		}
	}
	if ses == nil || !ses.HttpOnly || ses.SameSite != http.SameSiteStrictMode || ses.Path != "/ui" || strings.Contains(ses.Value, viewerToken) {
		t.Fatalf("session cookie %+v", ses)
	}
	code, body, csrf := get(t, c, srv.URL+"/ui/agents")
	if code != http.StatusOK || !strings.Contains(body, ">pay-coder</a>") || !strings.Contains(body, "auditor (viewer)") {
		t.Fatalf("agents page %d:\n%s", code, body)
	}
	if code, body, _ := get(t, c, srv.URL+"/ui/agents/pay-coder"); code != http.StatusOK || !strings.Contains(body, "payments@example.com") {
		t.Fatalf("agent page %d:\n%s", code, body)
	}
	if code, _, _ := get(t, c, srv.URL+"/ui/agents/ghost"); code != http.StatusNotFound {
		t.Fatalf("a missing agent answered %d", code)
	}
	// A forged sign-out without the session's token is refused.
	if resp, _ := post(t, c, srv.URL+"/ui/logout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without the CSRF token answered %d", resp.StatusCode)
	}
	if resp, _ := post(t, c, srv.URL+"/ui/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out answered %d", resp.StatusCode)
	}
	if code, _, _ := get(t, c, srv.URL+"/ui/agents"); code != http.StatusSeeOther {
		t.Fatalf("agents after sign-out answered %d", code)
	}
}

func TestSignInRefused(t *testing.T) {
	srv, _ := newConsole(t, nil)
	tests := []struct {
		name     string
		token    string
		csrf     func(form string) string
		want     int
		wantText string
	}{
		{name: "wrong token", token: "nope", want: http.StatusUnauthorized, wantText: "That token is not valid."},
		{name: "agent token", token: agentToken, want: http.StatusForbidden, wantText: "agent&#39;s token"},
		{name: "no form token", token: viewerToken, csrf: func(string) string { return "" }, want: http.StatusForbidden, wantText: "did not come from this console"},
		{name: "another form's token", token: viewerToken, csrf: func(string) string { return randomToken() }, want: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := client(t)
			_, _, form := get(t, c, srv.URL+"/ui/login")
			csrf := form
			if tc.csrf != nil {
				csrf = tc.csrf(form)
			}
			resp, body := post(t, c, srv.URL+"/ui/login", url.Values{"csrf": {csrf}, "token": {tc.token}})
			if resp.StatusCode != tc.want || !strings.Contains(body, tc.wantText) {
				t.Fatalf("answered %d:\n%s", resp.StatusCode, body)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == sessionCookie && ck.MaxAge >= 0 {
					t.Fatalf("a refused sign-in set a session: %+v", ck)
				}
			}
			if strings.Contains(body, tc.token) && tc.token != "" {
				t.Fatal("the page echoes the token")
			}
		})
	}
}

func TestSessionExpires(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	srv, _ := newConsole(t, clock)
	c := client(t)
	_, _, form := get(t, c, srv.URL+"/ui/login")
	post(t, c, srv.URL+"/ui/login", url.Values{"csrf": {form}, "token": {viewerToken}})
	if code, _, _ := get(t, c, srv.URL+"/ui/agents"); code != http.StatusOK {
		t.Fatalf("fresh session: %d", code)
	}
	now = now.Add(8*time.Hour + time.Second)
	if code, _, _ := get(t, c, srv.URL+"/ui/agents"); code != http.StatusSeeOther {
		t.Fatalf("a session past its 8 hours answered %d", code)
	}
}

func TestNewRefusesAShortKey(t *testing.T) {
	if _, err := New(Options{Authenticate: authenticate, Key: []byte("short")}); err == nil {
		t.Fatal("a 5-byte session key was accepted")
	}
}

// TestLiveStreamEndsAtShutdown: a server shutting down ends the open live
// streams instead of waiting for the browsers to leave.
func TestLiveStreamEndsAtShutdown(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "live.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := registry.New(registry.Options{Store: st})
	c, err := New(Options{Authenticate: authenticate, Agents: reg, KillSwitches: regKills{reg}, Approvals: storeApprovals{st},
		Audit: st, Actions: regActions{reg}, Key: testKey, LiveEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	cl := client(t)
	_, _, form := get(t, cl, srv.URL+"/ui/login")
	post(t, cl, srv.URL+"/ui/login", url.Values{"csrf": {form}, "token": {viewerToken}})
	resp, err := cl.Get(srv.URL + "/ui/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); done <- err }()
	c.Shutdown()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the live stream stayed open after Shutdown")
	}
}

// TestBigFormIsRefused: a body over the console's cap is cut off and the
// form is refused, whatever it carries.
func TestBigFormIsRefused(t *testing.T) {
	srv, _ := newConsole(t, nil)
	c := client(t)
	_, _, form := get(t, c, srv.URL+"/ui/login")
	resp, _ := post(t, c, srv.URL+"/ui/login", url.Values{"csrf": {form}, "token": {viewerToken}, "pad": {strings.Repeat("x", 70<<10)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a 70 KiB sign-in answered %d", resp.StatusCode)
	}
}

// TestRollbacksPageWhenOff: without rollback configured the page says so
// instead of showing empty tables that read as "nothing went wrong".
func TestRollbacksPageWhenOff(t *testing.T) {
	srv, _ := newConsole(t, nil)
	c := client(t)
	_, _, form := get(t, c, srv.URL+"/ui/login")
	post(t, c, srv.URL+"/ui/login", url.Values{"csrf": {form}, "token": {viewerToken}})
	code, body, _ := get(t, c, srv.URL+"/ui/rollbacks")
	if code != http.StatusOK || !strings.Contains(body, `id="rollback-off"`) || strings.Contains(body, `id="watches"`) {
		t.Fatalf("rollbacks page with rollback off: %d\n%s", code, body)
	}
}

// TestDecisionsPerMinute: the overview counts the last 15 minutes'
// decisions per minute by outcome from the audit log; records of other
// kinds and older decisions are not counted.
func TestDecisionsPerMinute(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "rate.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 4, 12, 30, 40, 0, time.UTC)
	add := func(at time.Time, kind audit.Kind, outcome string) {
		t.Helper()
		r := &audit.Record{ID: fmt.Sprint(at.UnixNano(), outcome, kind), Time: at, Kind: kind, Provider: "github", Decision: &audit.Decision{Outcome: outcome}}
		if err := st.AppendAudit(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	add(now.Add(-20*time.Minute), audit.KindDecision, "allow")                      // before the window
	add(time.Date(2026, 12, 4, 12, 16, 0, 0, time.UTC), audit.KindDecision, "deny") // the first minute shown
	for range 3 {
		add(time.Date(2026, 12, 4, 12, 29, 5, 0, time.UTC), audit.KindDecision, "allow")
	}
	add(time.Date(2026, 12, 4, 12, 29, 59, 0, time.UTC), audit.KindDecision, "approval_required")
	add(time.Date(2026, 12, 4, 12, 30, 1, 0, time.UTC), audit.KindDecision, "deny")
	add(time.Date(2026, 12, 4, 12, 30, 2, 0, time.UTC), audit.KindAdminChange, "")
	reg := registry.New(registry.Options{Store: st})
	c, err := New(Options{Authenticate: authenticate, Agents: reg, KillSwitches: regKills{reg}, Approvals: storeApprovals{st},
		Audit: st, Actions: regActions{reg}, Key: testKey, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	cl := client(t)
	_, _, form := get(t, cl, srv.URL+"/ui/login")
	post(t, cl, srv.URL+"/ui/login", url.Values{"csrf": {form}, "token": {viewerToken}})
	code, body, _ := get(t, cl, srv.URL+"/ui/")
	if code != http.StatusOK {
		t.Fatalf("overview answered %d", code)
	}
	row := func(minute string) string {
		m := regexp.MustCompile(`<tr><td>` + minute + `</td>((?:<td>\d+</td>){4})`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no row for %s in\n%s", minute, body)
		}
		return strings.NewReplacer("<td>", "", "</td>", " ").Replace(m[1])
	}
	for _, tc := range []struct{ minute, want string }{
		{"12:16", "0 1 0 0 "}, {"12:17", "0 0 0 0 "}, {"12:29", "3 0 1 0 "}, {"12:30", "0 1 0 0 "},
	} {
		if got := row(tc.minute); got != tc.want {
			t.Errorf("minute %s: allowed, denied, held, other = %q, want %q", tc.minute, got, tc.want)
		}
	}
	if !strings.Contains(body, `<span class="bar bar-0" style="width:75%"></span><span class="bar bar-2" style="width:25%"></span>`) {
		t.Errorf("12:29's bar is not three quarters allowed, one quarter held:\n%s", body)
	}
	if strings.Contains(body, "<td>12:15</td>") || strings.Count(body, `<span class="bar`) != 4 {
		t.Errorf("want 15 minutes, 12:16 to 12:30, and one bar part per outcome of each busy minute:\n%s", body)
	}
	if !strings.Contains(body, "6 decision(s): 3 allowed, 2 denied, 1 held for approval.") {
		t.Errorf("totals missing:\n%s", body)
	}
}
