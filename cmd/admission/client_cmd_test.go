package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

const testAPIToken = "op-secret-token"

// fakeReply is a canned answer of the fake API.
type fakeReply struct {
	status int
	body   string
	header map[string]string
}

// call is a request the fake API received (or a test expects): the method,
// path and encoded query in line, and the JSON body ("" for none).
type call struct {
	line string
	body string
}

// fakeAPI records requests and answers from routes keyed by
// "METHOD /path?query" (tried first) or "METHOD /path".
type fakeAPI struct {
	t      *testing.T
	routes map[string]fakeReply
	mu     sync.Mutex
	calls  []call
	url    string
}

func newFakeAPI(t *testing.T, routes map[string]fakeReply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, routes: routes}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testAPIToken {
		f.t.Errorf("%s: Authorization = %q", line, got)
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "admission/") {
		f.t.Errorf("%s: User-Agent = %q", line, ua)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{line: line, body: string(body)})
	f.mu.Unlock()
	rep, ok := f.routes[line]
	if !ok {
		rep, ok = f.routes[r.Method+" "+r.URL.Path]
	}
	if !ok {
		f.t.Errorf("unexpected request %s", line)
		rep = fakeReply{status: 404, body: `{"error":{"code":"not_found","message":"no route"}}`}
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeAPI) received() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// cliCase runs the admission command against a fake API.
type cliCase struct {
	name   string
	args   []string
	routes map[string]fakeReply
	// noToken runs without ADMISSION_TOKEN.
	noToken bool
	// stdin is the command's standard input.
	stdin string
	// wantCalls are the requests expected, in order (nil: none).
	wantCalls []call
	// wantOut is the exact standard output, unless empty.
	wantOut string
	// wantJSON is compared semantically with standard output, unless empty.
	wantJSON string
	// wantContains are substrings of standard output.
	wantContains []string
	// wantStderr are substrings of standard error.
	wantStderr []string
	// wantErr is a substring of the returned error ("" for success).
	wantErr string
	// wantExit is the exit code the error asks for (0: none).
	wantExit int
}

// runCLI executes the root command with args and returns its output.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut, env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	root := a.root()
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func runCLICases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.routes)
			env := map[string]string{"ADMISSION_SERVER": api.url, "ADMISSION_TOKEN": testAPIToken}
			if tc.noToken {
				delete(env, "ADMISSION_TOKEN")
			}
			stdout, stderr, err := runCLI(t, env, tc.stdin, tc.args...)
			checkCLIResult(t, tc, stdout, stderr, err)
			checkCalls(t, api.received(), tc.wantCalls)
			if strings.Contains(stdout+stderr, testAPIToken) {
				t.Errorf("the API token was printed")
			}
		})
	}
}

func checkCLIResult(t *testing.T, tc cliCase, stdout, stderr string, err error) {
	t.Helper()
	switch {
	case tc.wantErr == "" && err != nil:
		t.Fatalf("unexpected error: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
		t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
	}
	var ec exitCoder
	gotExit := 0
	if errors.As(err, &ec) {
		gotExit = ec.ExitCode()
	}
	if gotExit != tc.wantExit {
		t.Errorf("exit code = %d, want %d", gotExit, tc.wantExit)
	}
	if tc.wantOut != "" && stdout != tc.wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tc.wantOut)
	}
	if tc.wantJSON != "" && !sameJSON(t, stdout, tc.wantJSON) {
		t.Errorf("stdout JSON:\n%s\nwant:\n%s", stdout, tc.wantJSON)
	}
	if tc.wantJSON != "" && !strings.HasPrefix(stdout, "{\n  \"") {
		t.Errorf("JSON output is not indented:\n%s", stdout)
	}
	for _, s := range tc.wantContains {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout does not contain %q:\n%s", s, stdout)
		}
	}
	for _, s := range tc.wantStderr {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, stderr)
		}
	}
}

func checkCalls(t *testing.T, got, want []call) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("requests = %q, want %q", got, want)
	}
	for i := range want {
		if got[i].line != want[i].line {
			t.Errorf("request %d = %s, want %s", i, got[i].line, want[i].line)
		}
		switch {
		case want[i].body == "" && got[i].body != "":
			t.Errorf("request %d body = %s, want none", i, got[i].body)
		case want[i].body != "" && !sameJSON(t, got[i].body, want[i].body):
			t.Errorf("request %d body = %s, want %s", i, got[i].body, want[i].body)
		}
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Errorf("not JSON: %v\n%s", err, a)
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("bad expected JSON: %v\n%s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

func TestClientPreconditions(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name:    "missing token fails before any request",
			args:    []string{"agents", "list"},
			noToken: true,
			wantErr: "no API token: pass --token or set ADMISSION_TOKEN",
		},
		{
			name:    "unknown output format",
			args:    []string{"-o", "yaml", "killswitch", "list"},
			wantErr: `unknown output format "yaml": use -o table or -o json`,
		},
		{
			name:    "bad server URL",
			args:    []string{"--server", "ftp://example.com", "me"},
			wantErr: "--server: client: base URL",
		},
		{
			name:    "API errors read well",
			args:    []string{"agents", "get", "ghost"},
			routes:  map[string]fakeReply{"GET /api/v1/agents/ghost": {status: 404, body: `{"error":{"code":"not_found","message":"agent \"ghost\" not found","request_id":"r1"}}`}},
			wantErr: `404 not_found: agent "ghost" not found`, wantCalls: []call{{line: "GET /api/v1/agents/ghost"}},
		},
		{
			name:    "server errors show the request id",
			args:    []string{"costs"},
			routes:  map[string]fakeReply{"GET /api/v1/costs": {status: 500, body: `{"error":{"code":"internal","message":"internal error","request_id":"abc123"}}`}},
			wantErr: "500 internal: internal error (request id abc123)", wantCalls: []call{{line: "GET /api/v1/costs"}},
		},
	})
}

func TestTokenFlagOverridesEnv(t *testing.T) {
	api := newFakeAPI(t, map[string]fakeReply{"GET /api/v1/killswitches": {body: `{"items":[]}`}})
	env := map[string]string{"ADMISSION_SERVER": api.url, "ADMISSION_TOKEN": "wrong"}
	_, _, err := runCLI(t, env, "", "killswitch", "list", "--token", testAPIToken)
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, api.received(), []call{{line: "GET /api/v1/killswitches"}})
}
