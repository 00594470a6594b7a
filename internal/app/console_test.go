package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

// TestConsoleOnTheServer: /ui is served by the whole service; people sign
// in with their API tokens, an agent's token is refused, and the agents
// page lists agents by name.
func TestConsoleOnTheServer(t *testing.T) {
	h := newHarness(t, "sqlite")
	_, agentTok := h.provision(codingAgent("console-bot"))
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	signIn := func(token string) (*http.Client, int) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.Get(srv.URL + "/ui")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrf.FindStringSubmatch(string(body))
		if resp.Request.URL.Path != "/ui/login" || m == nil {
			t.Fatalf("/ui led to %s without a sign-in form", resp.Request.URL.Path)
		}
		resp, err = c.PostForm(srv.URL+"/ui/login", url.Values{"csrf": {m[1]}, "token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return c, resp.StatusCode
	}
	c, code := signIn(viewerToken)
	if code != http.StatusOK {
		t.Fatalf("viewer sign-in ended at %d", code)
	}
	resp, err := c.Get(srv.URL + "/ui/agents")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), ">console-bot</a>") || !strings.Contains(string(body), "auditor (viewer)") {
		t.Fatalf("agents page %d:\n%.2000s", resp.StatusCode, body)
	}
	if _, code := signIn(agentTok); code != http.StatusForbidden {
		t.Fatalf("an agent's token signed in to the console: %d", code)
	}
	if _, code := signIn("not-a-token"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong token answered %d", code)
	}
}

// consoleSession signs in to the console at base with token and returns
// the client and the session's form token.
func consoleSession(t *testing.T, base, token string) (*http.Client, string) {
	t.Helper()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	page := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := csrf.FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("%s: no form token (status %d)", resp.Request.URL.Path, resp.StatusCode)
		}
		return m[1]
	}
	form := page(c.Get(base + "/ui/login"))
	return c, page(c.PostForm(base+"/ui/login", url.Values{"csrf": {form}, "token": {token}}))
}

// TestConsoleKillSwitchRoles: a viewer sees kill switches but cannot pull
// one, and a POST without the session's form token is refused, even from
// an operator; nothing is engaged by either.
func TestConsoleKillSwitchRoles(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("console-bot"))
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	engage := func(c *http.Client, csrf string) int {
		resp, err := c.PostForm(srv.URL+"/ui/killswitches", url.Values{"csrf": {csrf}, "scope": {"agent"}, "target": {"console-bot"}, "reason": {"test"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	viewer, vcsrf := consoleSession(t, srv.URL, viewerToken)
	if code := engage(viewer, vcsrf); code != http.StatusForbidden {
		t.Fatalf("a viewer's engage answered %d, want 403", code)
	}
	operator, ocsrf := consoleSession(t, srv.URL, operatorToken)
	if code := engage(operator, ""); code != http.StatusForbidden {
		t.Fatalf("an engage without the form token answered %d, want 403", code)
	}
	if code := engage(operator, vcsrf); code != http.StatusForbidden {
		t.Fatalf("an engage with another session's form token answered %d, want 403", code)
	}
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/killswitches?all=true", viewerToken, nil, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Fatalf("refused forms engaged %d kill switches", len(list.Items))
	}

	// An operator who does not own the agent may pull its switch but not
	// release it: the API's rule.
	if code := engage(operator, ocsrf); code != http.StatusOK {
		t.Fatalf("an operator's engage ended at %d", code)
	}
	h.mustCall(http.MethodGet, "/api/v1/killswitches", viewerToken, nil, http.StatusOK, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d kill switches engaged", len(list.Items))
	}
	resp, err := operator.PostForm(srv.URL+"/ui/killswitches/"+list.Items[0].ID+"/release", url.Values{"csrf": {ocsrf}, "reason": {"mine now"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "only an admin or the owner") {
		t.Fatalf("a non-owner's release answered %d:\n%.500s", resp.StatusCode, body)
	}
}

// TestConsoleApprovalRules: the console applies the approval's own rules:
// a viewer whom the approvers do not name cannot approve, and the change
// stays pending.
func TestConsoleApprovalRules(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(map[string]any{
		"name": "release-bot", "type": "deployment", "owner": "platform-team", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"staging", "production"},
		"principals": []string{"github-app:release-bot"},
	})
	d := h.decide(deploy("github-app:release-bot", "production")).Decisions[0]
	if d.Approval == nil {
		t.Fatalf("no approval for a production deploy: %+v", d)
	}
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	viewer, csrf := consoleSession(t, srv.URL, viewerToken)
	resp, err := viewer.PostForm(srv.URL+"/ui/approvals/"+d.Approval.ID+"/approve", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer's approval answered %d:\n%.500s", resp.StatusCode, body)
	}
	var ap struct {
		State string `json:"state"`
	}
	h.mustCall(http.MethodGet, "/api/v1/approvals/"+d.Approval.ID, viewerToken, nil, http.StatusOK, &ap)
	if ap.State != "pending" {
		t.Fatalf("approval is %s after a refused console approval", ap.State)
	}
}

func TestConsoleAuditExplorer(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("coder-1"))
	h.decide(build("github:coder-1[bot]"))
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	c, _ := consoleSession(t, srv.URL, viewerToken)
	tests := []struct {
		name, path string
		want       int
		wantText   string
	}{
		{name: "agent by name", path: "/ui/audit?agent=coder-1&kind=decision", want: http.StatusOK, wantText: "<td>decision</td>"},
		{name: "unknown agent", path: "/ui/audit?agent=ghost", want: http.StatusOK, wantText: "There is no agent ghost."},
		{name: "bad time", path: "/ui/audit?from=yesterday", want: http.StatusBadRequest, wantText: "From is not a time"},
		{name: "bad cursor", path: "/ui/audit?after=-1", want: http.StatusBadRequest},
		{name: "a record", path: "/ui/audit/1", want: http.StatusOK, wantText: "Audit record 1"},
		{name: "no such record", path: "/ui/audit/999", want: http.StatusNotFound},
		{name: "not a record", path: "/ui/audit/x", want: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.wantText) {
				t.Fatalf("%s: %d\n%.1500s", tc.path, resp.StatusCode, body)
			}
		})
	}
}

// TestConsoleAgentActions: the agent page's actions follow the API's
// roles, need a reason, and change the agent as the API would.
func TestConsoleAgentActions(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("coder-1"))
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	viewer, vcsrf := consoleSession(t, srv.URL, viewerToken)
	operator, ocsrf := consoleSession(t, srv.URL, operatorToken)
	admin, acsrf := consoleSession(t, srv.URL, adminToken)
	state := func() (string, string) {
		var a struct {
			State string `json:"state"`
			Tier  string `json:"tier"`
		}
		h.mustCall(http.MethodGet, "/api/v1/agents/coder-1", viewerToken, nil, http.StatusOK, &a)
		return a.State, a.Tier
	}
	tests := []struct {
		name      string
		c         *http.Client
		csrf      string
		action    string
		reason    string
		want      int
		wantState string
		wantTier  string
	}{
		{name: "a viewer cannot suspend", c: viewer, csrf: vcsrf, action: "suspend", reason: "x", want: http.StatusForbidden, wantState: "active", wantTier: "new"},
		{name: "no reason", c: operator, csrf: ocsrf, action: "suspend", want: http.StatusBadRequest, wantState: "active", wantTier: "new"},
		{name: "an operator suspends", c: operator, csrf: ocsrf, action: "suspend", reason: "odd builds", want: http.StatusOK, wantState: "suspended", wantTier: "new"},
		{name: "an operator cannot promote", c: operator, csrf: ocsrf, action: "promote", reason: "x", want: http.StatusForbidden, wantState: "suspended", wantTier: "new"},
		{name: "an operator resumes", c: operator, csrf: ocsrf, action: "resume", reason: "checked", want: http.StatusOK, wantState: "active", wantTier: "new"},
		{name: "an admin promotes", c: admin, csrf: acsrf, action: "promote", reason: "clean record", want: http.StatusOK, wantState: "active", wantTier: "established"},
		{name: "an unknown action", c: admin, csrf: acsrf, action: "delete", reason: "x", want: http.StatusNotFound, wantState: "active", wantTier: "established"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.c.PostForm(srv.URL+"/ui/agents/coder-1/"+tc.action, url.Values{"csrf": {tc.csrf}, "reason": {tc.reason}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s answered %d:\n%.800s", tc.action, resp.StatusCode, body)
			}
			if s, tier := state(); s != tc.wantState || tier != tc.wantTier {
				t.Fatalf("agent is %s, tier %s; want %s, %s", s, tier, tc.wantState, tc.wantTier)
			}
		})
	}
	var recs struct {
		Items []struct {
			Actor   string `json:"actor"`
			Message string `json:"message"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?agent=coder-1&kind=admin_change", viewerToken, nil, http.StatusOK, &recs)
	found := false
	for _, r := range recs.Items {
		found = found || (r.Actor == "sre-oncall" && strings.Contains(r.Message, "odd builds"))
	}
	if !found {
		t.Fatalf("the suspension is not audited with the operator and the reason: %+v", recs.Items)
	}
}

// TestConsoleVerifiesTheChain: the audit explorer's "Verify the chain"
// walks the log and says intact, then names the first edited record.
func TestConsoleVerifiesTheChain(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("coder-1"))
	h.decide(build("github:coder-1[bot]"))
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	c, csrf := consoleSession(t, srv.URL, viewerToken)
	verify := func() string {
		resp, err := c.PostForm(srv.URL+"/ui/audit/verify", url.Values{"csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	n := h.auditCount()
	if body := verify(); !strings.Contains(body, fmt.Sprintf("Chain intact: %d records checked", n)) {
		t.Fatalf("verify of an intact chain:\n%.1500s", body)
	}
	db := h.app.Store.(*sqlstore.Store).DB()
	if _, err := db.Exec(`UPDATE audit_log SET body = REPLACE(body, '"allow"', '"deny"') WHERE seq = $1`, n); err != nil {
		t.Fatal(err)
	}
	if body := verify(); !strings.Contains(body, fmt.Sprintf("Chain BROKEN at record %d", n)) {
		t.Fatalf("verify of an edited chain:\n%.1500s", body)
	}
}

// TestConsoleAgentStanding: an agent's page shows its quota use against
// the policy's limits, its track record and its latest decisions, newest
// first, read from the same store the gate writes.
func TestConsoleAgentStanding(t *testing.T) {
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("record-bot"))
	h.provision(codingAgent("other-bot"))
	h.decide(build("github:record-bot[bot]"))
	h.decide(build("github:record-bot[bot]"))
	h.decide(build("github:other-bot[bot]"))
	if got := h.decide(deploy("github:record-bot[bot]", "production")).Decisions[0].Outcome; got != "deny" {
		t.Fatalf("a new coding agent's production deploy was %s", got)
	}
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	c, _ := consoleSession(t, srv.URL, viewerToken)
	resp, err := c.Get(srv.URL + "/ui/agents/record-bot")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent page answered %d", resp.StatusCode)
	}
	for _, want := range []string{
		"<tr><td>builds_per_hour</td><td>2</td><td>20</td><td>per 1h0m0s</td></tr>",
		"3 decision(s): 2 allowed, 1 denied (33%), 0 held for approval; 0 kill switch record(s), 0 rollback record(s), 0 tier change(s).",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("agent page lacks %q", want)
		}
	}
	recent := page[strings.Index(page, `id="recent"`):]
	deny, allow := strings.Index(recent, ">deny<"), strings.Index(recent, ">allow<")
	if strings.Count(recent, `<a href="/ui/audit/`) != 3 || deny < 0 || allow < 0 || deny > allow || strings.Contains(recent, "other-bot") {
		t.Errorf("latest decisions are not this agent's three, newest (the denied deploy) first:\n%s", recent)
	}
}
