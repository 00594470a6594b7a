package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentgate/agentgate/internal/testutil/browsertest"
)

// TestConsoleKillSwitchInABrowser: an operator signs in to the console in
// headless chromium, pulls the kill switch of an agent they own with a
// reason, sees it by the agent's name, and releases it; the audit log
// names the operator.
func TestConsoleKillSwitchInABrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	h := newHarness(t, "sqlite")
	spec := codingAgent("console-bot")
	spec["owner"] = "sre-oncall" // an operator releases switches of agents they own
	h.provision(spec)
	srv := httptest.NewServer(h.h)
	defer srv.Close()

	err := chromedp.Do(ctx,
		consoleSignIn(srv.URL, operatorToken),
		chromedp.Navigate(srv.URL+"/ui/killswitches"),
		chromedp.WaitVisible(chromedp.ID("engage")),
		chromedp.SendKeys(chromedp.ID("target"), "console-bot"),
		chromedp.SendKeys(chromedp.ID("reason"), "runaway loop in the browser test"),
		chromedp.Click(chromedp.ID("engage-button")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	if err != nil {
		t.Fatal(err)
	}
	table := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("killswitches")))
	if !strings.Contains(table, "console-bot") || !strings.Contains(table, "engaged") || !strings.Contains(table, "sre-oncall") {
		t.Fatalf("kill switches after engaging:\n%s", table)
	}
	var agent struct {
		State string `json:"state"`
	}
	h.mustCall(http.MethodGet, "/api/v1/agents/console-bot", viewerToken, nil, http.StatusOK, &agent)
	if agent.State != "killed" {
		t.Fatalf("agent state %s after the console's kill switch", agent.State)
	}

	if msg := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("message"))); msg != "Kill switch engaged: agent console-bot." {
		t.Fatalf("message after engaging: %q", msg)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#killswitches input[name="reason"]`), "fixed"),
		chromedp.Click(chromedp.CSS(`#killswitches button.release`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "message", "Kill switch released.")
	if table := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("killswitches"))); !strings.Contains(table, "None.") {
		t.Fatalf("kill switches after releasing:\n%s", table)
	}
	h.mustCall(http.MethodGet, "/api/v1/agents/console-bot", viewerToken, nil, http.StatusOK, &agent)
	if agent.State != "active" {
		t.Fatalf("agent state %s after the console released its switch", agent.State)
	}
	var recs struct {
		Items []struct {
			Kind  string `json:"kind"`
			Actor string `json:"actor"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?kind=kill", viewerToken, nil, http.StatusOK, &recs)
	if len(recs.Items) == 0 || recs.Items[0].Actor != "sre-oncall" {
		t.Fatalf("kill audit records %+v", recs.Items)
	}
}

// TestConsoleApproveInABrowser: a deployment agent's production deploy
// waits for a person; an admin approves it in the console in headless
// chromium, and the approval is resolved by that admin.
func TestConsoleApproveInABrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	h := newHarness(t, "sqlite")
	h.provision(map[string]any{
		"name": "release-bot", "type": "deployment", "owner": "platform-team", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"staging", "production"},
		"principals": []string{"github-app:release-bot"},
	})
	if got := h.decide(deploy("github-app:release-bot", "production")).Decisions[0].Outcome; got != "approval_required" {
		t.Fatalf("production deploy decided %s, want approval_required", got)
	}
	srv := httptest.NewServer(h.h)
	defer srv.Close()

	err := chromedp.Do(ctx,
		consoleSignIn(srv.URL, adminToken),
		chromedp.Navigate(srv.URL+"/ui/approvals"),
		chromedp.WaitVisible(chromedp.ID("approvals")),
	)
	if err != nil {
		t.Fatal(err)
	}
	table := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("approvals")))
	if !strings.Contains(table, "release-bot") || !strings.Contains(table, "production") || !strings.Contains(table, "pending") {
		t.Fatalf("pending approvals:\n%s", table)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#approvals button.approve`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "message", "Approval approved.")
	var list struct {
		Items []struct {
			State      string `json:"state"`
			ResolvedBy string `json:"resolved_by"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/approvals", viewerToken, nil, http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].State != "approved" || list.Items[0].ResolvedBy == "" || list.Items[0].ResolvedBy == "auditor" {
		t.Fatalf("approvals after the console approved: %+v", list.Items)
	}
}

// TestConsoleAuditInABrowser: the audit explorer filters the log by agent
// name and outcome in headless chromium, and a record's page shows the
// rules that fired.
func TestConsoleAuditInABrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("coder-1"))
	h.provision(codingAgent("coder-2"))
	h.decide(build("github:coder-1[bot]"))
	h.decide(deploy("github:coder-1[bot]", "production"))
	h.decide(deploy("github:coder-2[bot]", "production"))
	srv := httptest.NewServer(h.h)
	defer srv.Close()

	err := chromedp.Do(ctx,
		consoleSignIn(srv.URL, viewerToken),
		chromedp.Navigate(srv.URL+"/ui/audit"),
		chromedp.WaitVisible(chromedp.ID("audit-filter")),
		chromedp.SendKeys(chromedp.ID("f-agent"), "coder-1"),
		chromedp.SetValue(chromedp.ID("f-outcome"), "deny"),
		chromedp.Click(chromedp.ID("f-apply")),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The unfiltered page has record links too: wait for the filtered one.
	deadline := time.Now().Add(10 * time.Second)
	for loc := ""; !strings.Contains(loc, "agent=coder-1") || !strings.Contains(loc, "outcome=deny"); {
		if time.Now().After(deadline) {
			t.Fatalf("the filter form never went to the filtered page (at %s)", loc)
		}
		time.Sleep(50 * time.Millisecond)
		loc = browsertest.Run(t, ctx, chromedp.Location())
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#audit a[href^="/ui/audit/"]`))); err != nil {
		t.Fatal(err)
	}
	table := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("audit")))
	if strings.Count(table, "\tdecision\t") != 1 || !strings.Contains(table, "\tcoder-1\tdeny\t") || strings.Contains(table, "coder-2") {
		t.Fatalf("filtered audit log:\n%s", table)
	}
	err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#audit a[href^="/ui/audit/"]`)), chromedp.WaitVisible(chromedp.ID("record-reasons")))
	if err != nil {
		t.Fatal(err)
	}
	if reasons := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("record-reasons"))); !strings.Contains(reasons, "scope.environment") {
		t.Fatalf("the record's rules: %q", reasons)
	}
}

// TestConsoleLiveDecisionsInABrowser: on the overview, a decision made
// after the page opened arrives by itself (server-sent events), with the
// agent's name and its outcome.
func TestConsoleLiveDecisionsInABrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	h := newHarness(t, "sqlite")
	h.provision(codingAgent("coder-1"))
	h.decide(build("github:coder-1[bot]")) // before the page: not streamed
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	err := chromedp.Do(ctx,
		consoleSignIn(srv.URL, viewerToken),
		chromedp.Navigate(srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("live-empty")),
	)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the stream open before the decision
	if got := h.decide(deploy("github:coder-1[bot]", "production")).Decisions[0].Outcome; got != "deny" {
		t.Fatalf("decided %s", got)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#live-rows a[href^="/ui/audit/"]`))); err != nil {
		t.Fatal(err)
	}
	rows := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("live-rows")))
	if !strings.Contains(rows, "coder-1") || !strings.Contains(rows, "deny") || strings.Contains(rows, "allow") {
		t.Fatalf("live rows:\n%s", rows)
	}
	// Leave the page, closing its stream, before the server closes.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
}

// consoleSignIn signs the browser in to the console at base with token.
func consoleSignIn(base, token string) chromedp.Action[chromedp.Void] {
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/ui/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("agents")),
	}
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for _, step := range steps {
			if _, err := step(ctx, t); err != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, nil
	}
}

// waitText waits until the element with id shows want: a click's page
// has replaced the one before it.
func waitText(t *testing.T, ctx context.Context, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := ""
		present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById(`+strconv.Quote(id)+`) !== null`))
		if err == nil && present {
			got, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		}
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("#%s shows %q, want %q (%v)", id, got, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
