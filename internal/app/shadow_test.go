package app

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/agentgate/agentgate/internal/config"
)

// TestShadowPolicy: a shadow set that enforces the capability rule is
// evaluated on every decision without changing it; the metrics count what
// it would have changed, and the shadow report lists it from the recorded
// inputs.
func TestShadowPolicy(t *testing.T) {
	dir := copyBuiltin(t)
	settings := filepath.Join(dir, "data", "settings.yaml")
	b, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(settings, []byte(strings.Replace(string(b), "      capability: warn\n", "      capability: enforce\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "sqlite", func(c *config.Config) { c.Policy.ShadowDir = dir })
	go func() { _ = h.app.Shadow.Run(t.Context()) }()
	h.provision(codingAgent("with-build"))
	spec := codingAgent("no-build")
	spec["capabilities"] = []string{"deploy"}
	h.provision(spec)
	for _, p := range []string{"github:with-build[bot]", "github:no-build[bot]", "github:no-build[bot]"} {
		if got := h.decide(build(p)).Decisions[0].Outcome; got != "allow" {
			t.Fatalf("the live policy decided %s for %s: the shadow must not change decisions", got, p)
		}
	}
	m := h.app.Metrics
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.ShadowDecisions.WithLabelValues("same"))+testutil.ToFloat64(m.ShadowDecisions.WithLabelValues("changed")) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the shadow did not evaluate three decisions")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if same, changed, change := testutil.ToFloat64(m.ShadowDecisions.WithLabelValues("same")), testutil.ToFloat64(m.ShadowDecisions.WithLabelValues("changed")),
		testutil.ToFloat64(m.ShadowChanges.WithLabelValues("allow -> deny")); same != 1 || changed != 2 || change != 2 {
		t.Fatalf("shadow metrics: same %v, changed %v, allow -> deny %v", same, changed, change)
	}
	var rep struct {
		Decisions, Changed int
		Candidate          string `json:"candidate_revision"`
		Rules              map[string]struct{ Added int }
	}
	h.mustCall(http.MethodGet, "/api/v1/policy/shadow", viewerToken, nil, http.StatusOK, &rep)
	if rep.Decisions != 3 || rep.Changed != 2 || rep.Rules["capability"].Added != 2 || rep.Candidate != h.app.ShadowPolicy.Revision() {
		t.Fatalf("shadow report %+v", rep)
	}
	off := newHarness(t, "sqlite")
	if code := off.call(http.MethodGet, "/api/v1/policy/shadow", viewerToken, nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("shadow report without a shadow policy: %d", code)
	}
}
