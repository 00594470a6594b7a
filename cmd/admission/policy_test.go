package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const evalInput = `{"event":{"provider":"github","kind":"deploy","repo":"acme/api","environment":"production","principal":"github:coder[bot]"},
 "agent":{"id":"a1","name":"coder","type":"coding","owner":"alice","tier":"new","state":"active","capabilities":["deploy"],"environments":["staging"],"namespaces":[],"principals":["github:coder[bot]"]},
 "unregistered_agent":false,"usage":{},"now":"2026-11-22T10:00:00Z"}`

// writeSet writes a minimal policy set whose one Rego test passes or fails.
func writeSet(t *testing.T, pass bool) string {
	t.Helper()
	dir := t.TempDir()
	want := "true"
	if !pass {
		want = "false"
	}
	files := map[string]string{
		"p.rego":      "package agentgate.admission\n\ndecision := {\"allow\": true, \"deny\": [], \"require_approval\": null, \"quotas\": [], \"enforcement\": \"enforce\"}\n",
		"p_test.rego": "package agentgate.admission_test\n\nimport data.agentgate.admission\n\ntest_allow if admission.decision.allow == " + want + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPolicyTest(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantExit int
		wantOut  string
	}{
		{name: "built-in set passes", args: []string{"policy", "test"}, wantOut: "PASS"},
		{name: "passing directory", args: []string{"policy", "test", writeSet(t, true)}, wantOut: "PASS: 1/1"},
		{name: "failing directory exits 1", args: []string{"policy", "test", writeSet(t, false)}, wantExit: 1, wantOut: "FAIL"},
		{name: "missing directory", args: []string{"policy", "test", "/nonexistent/policies"}, wantExit: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, nil, "", tc.args...)
			var ec exitCoder
			switch {
			case tc.wantExit == 0 && err != nil:
				t.Fatalf("err = %v\n%s", err, stdout)
			case tc.wantExit > 0 && (!errors.As(err, &ec) || ec.ExitCode() != tc.wantExit):
				t.Fatalf("err = %v, want exit %d", err, tc.wantExit)
			case tc.wantExit < 0 && err == nil:
				t.Fatal("expected an error")
			}
			if !strings.Contains(stdout, tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, stdout)
			}
		})
	}
}

func TestPolicyEval(t *testing.T) {
	file := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(file, []byte(evalInput), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
		check   func(t *testing.T, out string)
	}{
		{name: "table explains the deny", args: []string{"policy", "eval", "--input", file}, check: func(t *testing.T, out string) {
			for _, want := range []string{"Decision:", "deny", "scope.environment"} {
				if !strings.Contains(out, want) {
					t.Fatalf("output lacks %q:\n%s", want, out)
				}
			}
		}},
		{name: "json from stdin", args: []string{"policy", "eval", "-i", "-", "-o", "json"}, stdin: evalInput, check: func(t *testing.T, out string) {
			var res struct {
				Decision struct {
					Allow bool `json:"allow"`
					Deny  []struct {
						Rule string `json:"rule"`
					} `json:"deny"`
				} `json:"decision"`
				Revision string `json:"revision"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			if res.Decision.Allow || len(res.Decision.Deny) != 1 || res.Decision.Deny[0].Rule != "scope.environment" || !strings.HasPrefix(res.Revision, "sha256:") {
				t.Fatalf("result = %+v", res)
			}
		}},
		{name: "against a directory", args: []string{"policy", "eval", "-i", file, "--policy-dir", writeSet(t, true)}, check: func(t *testing.T, out string) {
			if !strings.Contains(out, "allow") {
				t.Fatalf("output:\n%s", out)
			}
		}},
		{name: "explained", args: []string{"policy", "eval", "-i", file, "--explain"}, check: func(t *testing.T, out string) {
			for _, want := range []string{"Rules that held, in evaluation order:", "violations  (rules.rego:", "msg = ", "rule = \"scope.environment\""} {
				if !strings.Contains(out, want) {
					t.Fatalf("explained output lacks %q:\n%s", want, out)
				}
			}
		}},
		{name: "explained as JSON", args: []string{"policy", "eval", "-i", file, "--explain", "-o", "json"}, check: func(t *testing.T, out string) {
			var res struct {
				Fired []struct {
					Rule, Location string
					Values         []struct{ Name, Value string }
				}
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range res.Fired {
				found = found || f.Rule == "violations" && len(f.Values) > 0
			}
			if !found {
				t.Fatalf("no violations rule with values in %s", out)
			}
		}},
		{name: "unknown input field", args: []string{"policy", "eval", "-i", "-"}, stdin: `{"event":{},"bogus":1}`, wantErr: `unknown top-level field(s) "bogus"`},
		{name: "input is required", args: []string{"policy", "eval"}, wantErr: "input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, nil, tc.stdin, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, stdout)
		})
	}
}
