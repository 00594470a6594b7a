package main

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestApplyRoundTrip runs the CLI against a real server: agents applied
// from a file, written back with `agents get -o yaml`, show no difference
// and re-apply as unchanged.
func TestApplyRoundTrip(t *testing.T) {
	a := startApp(t, map[string]string{"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin})
	srv := httptest.NewServer(a.Server.Handler())
	defer srv.Close()
	env := map[string]string{"ADMISSION_SERVER": srv.URL, "ADMISSION_TOKEN": e2eAdmin}

	out, _, err := runCLI(t, env, payFile, "apply", "-f", "-", "--reason", "round trip")
	if err != nil || out != "agent/pay-coder created\nagent/pay-deployer created\n" {
		t.Fatalf("apply: %q, %v", out, err)
	}
	var docs []string
	for _, name := range []string{"pay-coder", "pay-deployer"} {
		doc, _, err := runCLI(t, env, "", "agents", "get", name, "-o", "yaml")
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	written := strings.Join(docs, "---\n")
	if out, _, err := runCLI(t, env, written, "diff", "-f", "-"); err != nil || out != "no differences\n" {
		t.Fatalf("diff of what get -o yaml wrote: %q, %v\n%s", out, err, written)
	}
	if out, _, err := runCLI(t, env, written, "apply", "-f", "-"); err != nil || out != "agent/pay-coder unchanged\nagent/pay-deployer unchanged\n" {
		t.Fatalf("re-apply: %q, %v", out, err)
	}

	changed := strings.Replace(payFile, "environments: [staging]\n", "environments: [staging, preview]\n", 1)
	out, _, err = runCLI(t, env, changed, "diff", "-f", "-")
	var ec exitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != 2 || out != "~ agent/pay-coder\n    environments: [staging] -> [staging, preview]\n" {
		t.Fatalf("diff of a change: %q, %v", out, err)
	}

}

// TestBypassApplyWithAgentToken: an agent cannot declare agents (its own
// scope, say) with its own token; apply needs an admin.
func TestBypassApplyWithAgentToken(t *testing.T) {
	a := startApp(t, map[string]string{"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin})
	srv := httptest.NewServer(a.Server.Handler())
	defer srv.Close()
	env := map[string]string{"ADMISSION_SERVER": srv.URL, "ADMISSION_TOKEN": e2eAdmin}
	if _, _, err := runCLI(t, env, payFile, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(payFile, "environments: [staging]\n", "environments: [staging, production]\n", 1)
	rot, _, err := runCLI(t, env, "", "agents", "rotate", "pay-coder", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rotation struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(rot), &rotation); err != nil || rotation.Token == "" {
		t.Fatalf("rotate answered %q, %v", rot, err)
	}
	token := rotation.Token
	agentEnv := map[string]string{"ADMISSION_SERVER": srv.URL, "ADMISSION_TOKEN": token}
	if _, _, err := runCLI(t, agentEnv, changed, "apply", "-f", "-"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("an agent applied agents with its own token: %v", err)
	}
	if out, _, err := runCLI(t, env, changed, "diff", "-f", "-"); err == nil || !strings.Contains(out, "environments: [staging] -> [staging, production]") {
		t.Fatalf("the refused apply changed the agent: %q, %v", out, err)
	}
}
