package app

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
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
