package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpNeverPrintsSecrets walks every command with secrets in the
// environment and checks that no help text shows them.
func TestHelpNeverPrintsSecrets(t *testing.T) {
	secrets := map[string]string{
		"ADMISSION_TOKEN":       "agadm_SECRET-token-value-1",
		"ADMISSION_SERVER":      "https://ops:SECRET-password-2@agentgate.example.com",
		"AGENTGATE_HOOK_TOKEN":  "SECRET-hook-token-3",
		"AGENTGATE_ID_TOKEN":    "SECRET-id-token-4",
		"ADMISSION_CONFIG":      "/etc/agentgate/agentgate.yaml",
		"ADMISSION_GITHUB_TOKN": "SECRET-unrelated-5",
	}
	env := func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk((&app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, env: env}).root(), nil)
	if len(paths) < 20 {
		t.Fatalf("walked only %d commands", len(paths))
	}
	for _, path := range paths {
		t.Run(strings.Join(append([]string{"admission"}, path...), " "), func(t *testing.T) {
			var out bytes.Buffer
			a := &app{stdout: &out, stderr: &out, env: env}
			root := a.root()
			root.SetArgs(append(append([]string(nil), path...), "--help"))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			help := out.String()
			if !strings.Contains(help, "Usage:") {
				t.Fatalf("no help printed:\n%s", help)
			}
			if strings.Contains(help, "SECRET") {
				t.Fatalf("help shows a secret:\n%s", help)
			}
			if strings.Contains(help, "--token") && !strings.Contains(help, `(default "(set)")`) {
				t.Fatalf("help does not say the token is set:\n%s", help)
			}
		})
	}
}
