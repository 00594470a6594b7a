package console

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/agentgate/agentgate/internal/testutil/browsertest"
)

// TestConsoleInABrowser signs in with a token in headless chromium, finds
// the agent by name in the list, opens its page and signs out.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browsertest.Start(t)
	srv, _ := newConsole(t, nil)
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/ui/agents"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), viewerToken),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("agents")),
	)
	if err != nil {
		t.Fatal(err)
	}
	list := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("agents")))
	if !strings.Contains(list, "pay-coder") || !strings.Contains(list, "payments@example.com") {
		t.Fatalf("agents table:\n%s", list)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="/ui/agents/pay-coder"]`)), chromedp.WaitVisible(chromedp.ID("agent-name"))); err != nil {
		t.Fatal(err)
	}
	if name, state := browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("agent-name"))), browsertest.Run(t, ctx, chromedp.Text(chromedp.ID("agent-state"))); name != "pay-coder" || state != "active" {
		t.Fatalf("agent page shows %q, %q", name, state)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("token"))); err != nil {
		t.Fatal(err)
	}
	if loc := browsertest.Run(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/ui/login") {
		t.Fatalf("after signing out the browser is at %s", loc)
	}
	// Signed out: the agents page sends the browser back to sign in.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ui/agents"), chromedp.WaitVisible(chromedp.ID("token"))); err != nil {
		t.Fatal(err)
	}
}
