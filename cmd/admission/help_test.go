package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/config"
)

// TestHelpNeverPrintsSecrets walks every command with secrets in the
// environment and checks that no help text shows them.
func TestHelpNeverPrintsSecrets(t *testing.T) {
	secrets := map[string]string{
		"ADMISSION_TOKEN":      "agadm_SECRET-token-value-1",
		"ADMISSION_SERVER":     "https://ops:SECRET-password-2@agentgate.example.com",
		"AGENTGATE_HOOK_TOKEN": "SECRET-hook-token-3",
		"AGENTGATE_ID_TOKEN":   "SECRET-id-token-4",
		"ADMISSION_CONFIG":     "/etc/agentgate/agentgate.yaml",
	}
	// Every secret of the server's configuration, by its variable.
	for _, name := range secretEnvNames(reflect.TypeOf(config.Config{}), "") {
		secrets[name] = "SECRET-" + name
		secrets[name+"_FILE"] = "/run/SECRET-" + name
	}
	if len(secrets) < 20 {
		t.Fatalf("found only %d secret variables", len(secrets))
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

// secretEnvNames lists the ADMISSION_ variables of the config.Secret fields
// under t, named as config.Load reads them (yaml keys, dots as underscores).
func secretEnvNames(t reflect.Type, key string) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		k := tag
		if key != "" {
			k = key + "_" + tag
		}
		switch {
		case f.Type == reflect.TypeOf(config.Secret{}):
			names = append(names, config.EnvPrefix+strings.ToUpper(k))
		case f.Type.Kind() == reflect.Struct:
			names = append(names, secretEnvNames(f.Type, k)...)
		}
	}
	return names
}
