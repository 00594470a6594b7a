package argo

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/secret"
	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the provider's output")

const (
	testHookToken   = "hook-token-0123456789abcdef"
	testArgoCDToken = "argocd-api-token"
)

// newProvider builds a provider or fails the test.
func newProvider(t testing.TB, o Options) *Provider {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// decideCall is one call a fakeDecider received.
type decideCall struct {
	Event      event.Event `json:"event"`
	DeliveryID string      `json:"delivery_id"`
}

// fakeDecider records what it is asked and answers a fixed verdict.
type fakeDecider struct {
	mu      sync.Mutex
	calls   []decideCall
	verdict Verdict
	err     error
}

func (d *fakeDecider) Decide(_ context.Context, ev event.Event, id string) (Verdict, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, decideCall{Event: ev, DeliveryID: id})
	return d.verdict, d.err
}

func (d *fakeDecider) recorded() []decideCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]decideCall(nil), d.calls...)
}

// readFixtures lists dir's *.json files by name without the extension.
func readFixtures(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(fixtures.Path("argo", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata/argo/%s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = b
	}
	return out
}

// checkGolden compares v, as indented JSON, with testdata/golden/name.json;
// -update rewrites it.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// argoCDCall is one request the fake Argo CD API received.
type argoCDCall struct {
	Path  string
	Query string
	Token string
}

// fakeArgoCD is an httptest Argo CD API answering
// GET /api/v1/applications/{name} with a fixture (or a status).
type fakeArgoCD struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []argoCDCall
	app    []byte
	status int
}

func newFakeArgoCD(t testing.TB) *fakeArgoCD {
	t.Helper()
	f := &fakeArgoCD{status: http.StatusOK}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeArgoCD) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, argoCDCall{Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Token: r.Header.Get("Authorization")})
	app, status := f.app, f.status
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/api/v1/applications/"):
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"Not Found","code":5}`)
	case r.Header.Get("Authorization") != "Bearer "+testArgoCDToken:
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid session","code":16}`)
	case status != http.StatusOK:
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":"error","code":7}`)
	default:
		_, _ = w.Write(app)
	}
}

func (f *fakeArgoCD) set(app []byte, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.app, f.status, f.calls = app, status, nil
}

func (f *fakeArgoCD) recorded() []argoCDCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]argoCDCall(nil), f.calls...)
}

// hookOptions configure a provider against the fake Argo CD.
func hookOptions(f *fakeArgoCD) Options {
	return Options{
		HookToken:   secret.New(testHookToken, "test"),
		ArgoCDURL:   f.URL,
		ArgoCDToken: secret.New(testArgoCDToken, "test"),
		HTTPClient:  f.Client(),
	}
}

// hookHeaders are the headers `admission hook presync` sends.
func hookHeaders(token, app, phase string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if app != "" {
		h.Set(HeaderApplication, app)
	}
	if phase != "" {
		h.Set(HeaderPhase, phase)
	}
	return h
}

// admissionBody is an AdmissionReview v1 of an argoproj.io kind with the
// given operation, object and old object (JSON; empty for none).
func admissionBody(kind, op, object, oldObject string) []byte {
	req := map[string]any{
		"uid":       "u-1",
		"kind":      map[string]string{"group": "argoproj.io", "version": "v1alpha1", "kind": kind},
		"namespace": "agents",
		"operation": op,
		"userInfo":  map[string]any{"username": "system:serviceaccount:agents:claude-bot"},
	}
	if object != "" {
		req["object"] = json.RawMessage(object)
	}
	if oldObject != "" {
		req["oldObject"] = json.RawMessage(oldObject)
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	if err != nil {
		panic(err)
	}
	return b
}
