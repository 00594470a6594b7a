package app

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/policies"
)

// copyBuiltin writes the built-in policy set into a directory.
func copyBuiltin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policies.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS(), path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPolicyReloadRejectsABrokenSet: a policy directory that stops
// compiling is rejected; the last good set keeps deciding, and readiness,
// the metric and the audit log say so. A fixed set is taken again.
func TestPolicyReloadRejectsABrokenSet(t *testing.T) {
	dir := copyBuiltin(t)
	h := newHarness(t, "sqlite", func(c *config.Config) { c.Policy.Dir = dir })
	h.provision(codingAgent("reload-bot"))
	good := h.decide(build("github:reload-bot[bot]")).Decisions[0].PolicyRevision

	rules := filepath.Join(dir, "rules.rego")
	orig, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, append(orig, []byte("\nthis is not rego {\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.app.Policy.Reload(context.Background(), os.DirFS(dir), dir); err == nil {
		t.Fatal("a broken policy set was accepted")
	}
	if rev := h.decide(build("github:reload-bot[bot]")).Decisions[0].PolicyRevision; rev != good {
		t.Fatalf("decisions use %s, want the last good %s", rev, good)
	}
	var ready struct {
		Status string `json:"status"`
		Policy struct {
			LastError string `json:"last_error"`
		} `json:"policy"`
	}
	h.mustCall(http.MethodGet, "/readyz", "", nil, http.StatusOK, &ready)
	if ready.Status != "ready" || ready.Policy.LastError == "" {
		t.Fatalf("readyz = %+v", ready)
	}
	rec := newRecorder()
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	h.h.ServeHTTP(rec, req)
	for _, want := range []string{"agentgate_policy_last_reload_ok 0", `agentgate_policy_reloads_total{result="failure"} 1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var recs struct {
		Items []struct {
			Details map[string]string `json:"details"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?kind=policy_reload", viewerToken, nil, http.StatusOK, &recs)
	if len(recs.Items) != 1 || recs.Items[0].Details["result"] != "failure" || recs.Items[0].Details["previous"] != good {
		t.Fatalf("policy_reload audit = %+v", recs.Items)
	}

	if err := os.WriteFile(rules, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.app.Policy.Reload(context.Background(), os.DirFS(dir), dir); err != nil {
		t.Fatalf("the reverted set was refused: %v", err)
	}
	rec = newRecorder()
	h.h.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), "agentgate_policy_last_reload_ok 1") {
		t.Error("metric did not recover after reverting to the served set")
	}
	ready.Policy.LastError = ""
	h.mustCall(http.MethodGet, "/readyz", "", nil, http.StatusOK, &ready)
	if ready.Policy.LastError != "" {
		t.Errorf("readyz still reports %q", ready.Policy.LastError)
	}
}
