package github

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

const testSecret = "It's a Secret to Everybody"

// testRates are the runner rates the golden files were made with.
func testRates() map[string]float64 {
	return map[string]float64{"gpu-a100": 0.25, "Default": 0.008}
}

// headers builds a delivery's headers; empty values are left out.
func headers(eventName, delivery string) http.Header {
	h := http.Header{}
	if eventName != "" {
		h.Set(HeaderEvent, eventName)
	}
	if delivery != "" {
		h.Set(HeaderDelivery, delivery)
	}
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

// call is one request the fake GitHub API received.
type call struct {
	Method string
	Path   string
	Auth   string
	Body   map[string]any
}

// reply is a canned response.
type reply struct {
	status  int
	headers map[string]string
	body    string
}

// fakeGitHub is an httptest GitHub API that records every call and answers
// from a table keyed by "METHOD /path" (default: 201 with "{}").
type fakeGitHub struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []call
	replies map[string]reply
}

func newFakeGitHub(t testing.TB, replies map[string]reply) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	c := call{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &c.Body); err != nil {
			c.Body = map[string]any{"_unparsable": string(raw)}
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	rep, ok := f.replies[r.Method+" "+r.URL.Path]
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

// recorded returns the calls so far, leaving out installation token requests
// unless all is set.
func (f *fakeGitHub) recorded(all bool) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if !all && strings.HasPrefix(c.Path, "/app/") {
			continue
		}
		out = append(out, c)
	}
	return out
}

// tokenOptions configure a provider with token auth against the fake.
func tokenOptions(f *fakeGitHub) Options {
	return Options{
		WebhookSecret: secret.New(testSecret, "test"),
		Token:         secret.New("ghp_test_token", "test"),
		BaseURL:       f.URL + "/",
		RunnerRates:   testRates(),
		HTTPClient:    f.Client(),
	}
}
