package gitlab

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/internal/secret"
)

const testToken = "It's a Secret to Everybody"

// testRates are the runner rates the golden files were made with.
func testRates() map[string]float64 {
	return map[string]float64{"gpu-a100": 0.25, "Default": 0.008}
}

// hookOf maps a fixture's prefix to its X-Gitlab-Event.
func hookOf(fixture string) string {
	prefix, _, _ := strings.Cut(fixture, ".")
	switch prefix {
	case "pipeline":
		return hookPipeline
	case "job":
		return hookJob
	case "deployment":
		return hookDeployment
	case "system":
		return hookSystem
	case "push":
		return "Push Hook"
	}
	return prefix
}

// headers builds a delivery's headers; empty values are left out.
func headers(hook, uuid string) http.Header {
	h := http.Header{}
	if hook != "" {
		h.Set(HeaderEvent, hook)
	}
	if uuid != "" {
		h.Set(HeaderEventUUID, uuid)
	}
	h.Set(HeaderToken, testToken)
	h.Set("Content-Type", "application/json")
	return h
}

// newProvider builds a provider or fails the test.
func newProvider(t testing.TB, o Options) *Provider {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// call is one request the fake GitLab API received.
type call struct {
	Method string
	Path   string
	Query  string
	Token  string
	Body   map[string]any
}

// reply is a canned response.
type reply struct {
	status  int
	headers map[string]string
	body    string
}

// fakeGitLab is an httptest GitLab API that records every call and answers
// from a table keyed by "METHOD /path" (default: 201 with "{}").
type fakeGitLab struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []call
	replies map[string]reply
}

func newFakeGitLab(t testing.TB, replies map[string]reply) *fakeGitLab {
	t.Helper()
	f := &fakeGitLab{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitLab) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	c := call{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Token: r.Header.Get("PRIVATE-TOKEN")}
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &c.Body); err != nil {
			c.Body = map[string]any{"_unparsable": string(raw)}
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	rep, ok := f.replies[r.Method+" "+r.URL.EscapedPath()]
	f.mu.Unlock()
	if !ok {
		rep = reply{status: http.StatusCreated, body: "{}"}
	}
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeGitLab) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// apiOptions configure a provider against the fake.
func apiOptions(f *fakeGitLab) Options {
	return Options{
		WebhookToken: secret.New(testToken, "test"),
		APIToken:     secret.New("glpat-test-token", "test"),
		BaseURL:      f.URL,
		RunnerRates:  testRates(),
		HTTPClient:   f.Client(),
	}
}
