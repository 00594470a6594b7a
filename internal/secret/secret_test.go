package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestUnmarshalYAML(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		doc     string
		value   string
		source  string
		envRef  string
		wantErr string
	}{
		{name: "inline", doc: `s: inline-value`, value: "inline-value", source: "inline"},
		{name: "a file, without its line break", doc: `s: {file: ` + file + `}`, value: "from-a-file", source: "file " + file},
		{name: "an environment variable, read later", doc: `s: {env: MY_TOKEN}`, source: "env MY_TOKEN", envRef: "MY_TOKEN"},
		{name: "file and env", doc: `s: {file: /x, env: Y}`, wantErr: "file or env, not both"},
		{name: "an empty mapping", doc: `s: {}`, wantErr: "needs file or env"},
		{name: "a list", doc: `s: [a, b]`, wantErr: "a secret is a string"},
		{name: "a missing file", doc: `s: {file: /nonexistent/secret}`, wantErr: "read secret file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v struct {
				S Secret `yaml:"s"`
			}
			err := yaml.Unmarshal([]byte(tc.doc), &v)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.S.Reveal() != tc.value || v.S.Source() != tc.source || v.S.EnvRef() != tc.envRef {
				t.Fatalf("secret %q from %q (env ref %q)", v.S.Reveal(), v.S.Source(), v.S.EnvRef())
			}
			if out, _ := yaml.Marshal(v); tc.value != "" && strings.Contains(string(out), tc.value) {
				t.Fatalf("YAML reveals the value: %s", out)
			}
		})
	}
}
