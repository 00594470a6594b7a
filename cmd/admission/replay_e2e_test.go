package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/policies"
)

// candidateWith copies the built-in policies to a directory with the
// replacements applied to settings.yaml.
func candidateWith(t *testing.T, replace ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, policies.FS()); err != nil {
		t.Fatal(err)
	}
	settings := filepath.Join(dir, "data", "settings.yaml")
	b, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(replace...).Replace(string(b))
	if s == string(b) {
		t.Fatal("the replacement changed nothing")
	}
	if err := os.WriteFile(settings, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPolicyReplay: decisions made by a running server keep their policy
// inputs; `admission policy replay` streams them and reports what a
// candidate set would change: enforcing the capability rule turns the
// builds of an agent without the build capability from allowed to denied,
// and nothing else.
func TestPolicyReplay(t *testing.T) {
	const secret = "replay-generic-secret-0123"
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin, "ADMISSION_WEBHOOKS_GENERIC_SECRET": secret,
	})
	srv := httptest.NewServer(a.Server.Handler())
	defer srv.Close()
	e := &e2e{t: t, h: a.Server.Handler()}
	for _, spec := range []map[string]any{
		{"name": "builder", "type": "coding", "owner": "alice@example.com", "capabilities": []string{"build"}, "environments": []string{"staging"},
			"principals": []string{"github:builder[bot]"}},
		{"name": "no-caps", "type": "coding", "owner": "bob@example.com", "capabilities": []string{"deploy"}, "environments": []string{"staging"},
			"principals": []string{"github:no-caps[bot]"}},
	} {
		e.call(http.MethodPost, "/api/v1/agents", spec, http.StatusCreated, nil)
	}
	for i, principal := range []string{"github:builder[bot]", "github:no-caps[bot]", "github:builder[bot]", "github:no-caps[bot]", "github:octocat"} {
		body, _ := json.Marshal(map[string]any{"kind": "build", "repo": "acme/api", "sha": fmt.Sprint(i), "principal": principal})
		req := httptest.NewRequest(http.MethodPost, "/webhooks/generic", bytes.NewReader(body))
		req.Header.Set("X-Agentgate-Delivery", fmt.Sprintf("replay-%d", i))
		req.Header.Set("X-Agentgate-Signature-256", providers.SignHMACSHA256([]byte(secret), body))
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("decision %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	env := map[string]string{"ADMISSION_SERVER": srv.URL, "ADMISSION_TOKEN": e2eAdmin}
	candidate := candidateWith(t, "      capability: warn\n", "      capability: enforce\n")

	out, stderr, err := runCLI(t, env, "", "policy", "replay", "--policy-dir", candidate, "--since", "1d")
	if err != nil {
		t.Fatalf("replay: %v\n%s\n%s", err, out, stderr)
	}
	for _, want := range []string{"Decisions:           5", "Would change:        2 (40.0%)", "allow -> deny  2", "capability  2             0", "no-caps"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "builder ") {
		t.Errorf("an agent with the capability shows as changed:\n%s", out)
	}

	// The unchanged built-in set changes nothing.
	builtin := candidateWith(t, "      capability: warn\n", "      capability: warn # same\n")
	out, _, err = runCLI(t, env, "", "policy", "replay", "--policy-dir", builtin, "--since", "1d", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Decisions, Changed, Errors int
		More                       bool
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Decisions != 5 || rep.Changed != 0 || rep.Errors != 0 || rep.More {
		t.Fatalf("replaying the same policy: %+v", rep)
	}
	// --max stops early and says so.
	out, _, err = runCLI(t, env, "", "policy", "replay", "--policy-dir", builtin, "--since", "1d", "--max", "2")
	if err != nil || !strings.Contains(out, "Decisions:           2") || !strings.Contains(out, "stopped at --max") {
		t.Fatalf("replay --max 2: %v\n%s", err, out)
	}
	// A candidate whose Rego tests fail is not replayed.
	if _, _, err := runCLI(t, env, "", "policy", "replay", "--policy-dir", writeSet(t, false), "--since", "1d"); err == nil || !strings.Contains(err.Error(), "tests failed") {
		t.Fatalf("a failing candidate: %v", err)
	}
}
