package console

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts Debian's chromium headless for one test. Without it the
// test is skipped, unless CI=true, where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed and CI=true: %v", err)
		}
		t.Skipf("chromium is not installed (apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestConsoleInABrowser signs in with a token in headless chromium, finds
// the agent by name in the list, opens its page and signs out.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browser(t)
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
	list := run(t, ctx, chromedp.Text(chromedp.ID("agents")))
	if !strings.Contains(list, "pay-coder") || !strings.Contains(list, "payments@example.com") {
		t.Fatalf("agents table:\n%s", list)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="/ui/agents/pay-coder"]`)), chromedp.WaitVisible(chromedp.ID("agent-name"))); err != nil {
		t.Fatal(err)
	}
	if name, state := run(t, ctx, chromedp.Text(chromedp.ID("agent-name"))), run(t, ctx, chromedp.Text(chromedp.ID("agent-state"))); name != "pay-coder" || state != "active" {
		t.Fatalf("agent page shows %q, %q", name, state)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("token"))); err != nil {
		t.Fatal(err)
	}
	if loc := run(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/ui/login") {
		t.Fatalf("after signing out the browser is at %s", loc)
	}
	// Signed out: the agents page sends the browser back to sign in.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ui/agents"), chromedp.WaitVisible(chromedp.ID("token"))); err != nil {
		t.Fatal(err)
	}
}

// run runs one browser action that returns a value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
