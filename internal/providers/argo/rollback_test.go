package argo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/secret"
	"github.com/agentgate/agentgate/internal/store"
)

// cdCall is one request the fake Argo CD API received.
type cdCall struct{ Method, Path, Query, Body, Auth string }

// fakeCD is an Argo CD API that records requests and answers them from a route table
// ("METHOD /path" → status and body); unknown routes get 404.
type fakeCD struct {
	mu     sync.Mutex
	calls  []cdCall
	routes map[string]func() (int, string)
	srv    *httptest.Server
}

func newFakeCD(t *testing.T, routes map[string]func() (int, string)) *fakeCD {
	t.Helper()
	f := &fakeCD{routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		f.mu.Lock()
		f.calls = append(f.calls, cdCall{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b), auth})
		f.mu.Unlock()
		route, ok := f.routes[r.Method+" "+r.URL.EscapedPath()]
		if !ok {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		status, body := route()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCD) Calls() []cdCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cdCall(nil), f.calls...)
}

func cdReply(status int, body string) func() (int, string) {
	return func() (int, string) { return status, body }
}

// earlierSync is the recorded sync a rollback returns to.
func earlierSync() store.Deployment {
	return store.Deployment{
		ID: "d1", Provider: "argo", Repo: "checkout", Environment: "production", SHA: "aaaaaaa1111",
		Handles: map[string]string{"application": "checkout", "app_namespace": "argocd", "history_id": "9"},
	}
}

// cdProvider is the provider with the fake as its Argo CD API.
func cdProvider(t *testing.T, api *fakeCD) *Provider {
	t.Helper()
	return newProvider(t, Options{HookToken: secret.New(testHookToken, "test"), ArgoCDURL: api.srv.URL,
		ArgoCDToken: secret.New("argo", "test"), HTTPClient: api.srv.Client()})
}

func TestRollback(t *testing.T) {
	tests := []struct {
		name      string
		app       string
		wantCalls []cdCall
	}{
		{"auto-sync switched off first", `{"spec":{"syncPolicy":{"automated":{"prune":true}}}}`, []cdCall{
			{Method: "GET", Path: "/api/v1/applications/checkout", Query: "appNamespace=argocd", Auth: "Bearer argo"},
			{Method: "PATCH", Path: "/api/v1/applications/checkout", Query: "appNamespace=argocd", Auth: "Bearer argo",
				Body: `{"appNamespace":"argocd","name":"checkout","patch":"{\"spec\":{\"syncPolicy\":{\"automated\":null}}}","patchType":"merge"}`},
			{Method: "POST", Path: "/api/v1/applications/checkout/rollback", Auth: "Bearer argo",
				Body: `{"appNamespace":"argocd","id":9,"name":"checkout"}`},
		}},
		{"manual sync app", `{"spec":{"syncPolicy":{}}}`, []cdCall{
			{Method: "GET", Path: "/api/v1/applications/checkout", Query: "appNamespace=argocd", Auth: "Bearer argo"},
			{Method: "POST", Path: "/api/v1/applications/checkout/rollback", Auth: "Bearer argo",
				Body: `{"appNamespace":"argocd","id":9,"name":"checkout"}`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeCD(t, map[string]func() (int, string){
				"GET /api/v1/applications/checkout":           cdReply(200, tc.app),
				"PATCH /api/v1/applications/checkout":         cdReply(200, tc.app),
				"POST /api/v1/applications/checkout/rollback": cdReply(200, `{}`),
			})
			ex := cdProvider(t, api)
			res, err := ex.Rollback(context.Background(), rollback.Target{App: "checkout"}, earlierSync())
			if err != nil || res.Ref != "9" || len(res.Steps) != len(tc.wantCalls) {
				t.Fatalf("result %+v, %v", res, err)
			}
			got := api.Calls()
			if len(got) != len(tc.wantCalls) {
				t.Fatalf("calls %+v", got)
			}
			for i := range got {
				if got[i] != tc.wantCalls[i] {
					t.Errorf("call %d = %+v, want %+v", i, got[i], tc.wantCalls[i])
				}
			}
			if len(tc.wantCalls) == 3 && !strings.Contains(res.Steps[1], "automated sync switched off") {
				t.Errorf("steps %q do not say auto-sync was switched off", res.Steps)
			}
		})
	}
	t.Run("a history id that is not a number", func(t *testing.T) {
		d := earlierSync()
		d.Handles["history_id"] = "nine"
		if _, err := cdProvider(t, newFakeCD(t, nil)).Rollback(context.Background(), rollback.Target{}, d); !rollback.IsPermanent(err) {
			t.Fatalf("error %v, want permanent", err)
		}
	})
}

// TestArgoCDExecutorResolvesHistory: a deployment recorded without a
// history id (a notification template that sent none) is rolled back to the
// id the application's history gives for its revision.
func TestRollbackResolvesHistory(t *testing.T) {
	history := `{"spec":{"syncPolicy":{}},"status":{"history":[
		{"id":3,"revision":"aaaaaaa1111","deployedAt":"2026-11-20T10:00:00Z"},
		{"id":4,"revision":"ccccccc3333","deployedAt":"2026-11-21T10:00:00Z"},
		{"id":5,"revision":"aaaaaaa1111","deployedAt":"2026-11-22T10:00:00Z"},
		{"id":6,"revision":"bbbbbbb2222","deployedAt":"2026-11-22T11:00:00Z"}]}}`
	tests := []struct {
		name     string
		app      string
		handles  map[string]string
		sha      string
		wantID   string
		wantStep string
		wantErr  string
	}{
		{name: "the newest earlier sync of the deployment's sha", app: history, sha: "aaaaaaa1111", wantID: "5", wantStep: "history id 5, the newest earlier sync of revision aaaaaaa1111"},
		{name: "the revision handle wins over the sha", app: history, sha: "aaaaaaa1111", handles: map[string]string{"revision": "ccccccc3333"}, wantID: "4"},
		{name: "an abbreviated revision", app: history, handles: map[string]string{"revision": "ccccccc"}, wantID: "4"},
		{name: "no revision: the sync before the current one", app: history, wantID: "5", wantStep: "the sync before the current one"},
		{name: "a multi-source application", app: `{"status":{"history":[{"id":1,"revisions":["aaaaaaa1111","v1.2.0"]},{"id":2,"revisions":["bbbbbbb2222","v1.2.0"]}]}}`,
			sha: "aaaaaaa1111", wantID: "1"},
		{name: "the revision is not in the kept history", app: history, sha: "ddddddd4444", wantErr: "synced revision ddddddd4444"},
		{name: "the current sync is the only one", app: `{"status":{"history":[{"id":1,"revision":"aaaaaaa1111"}]}}`, sha: "aaaaaaa1111", wantErr: "history has 1 entries"},
		{name: "the current sync is not an earlier one", app: history, sha: "bbbbbbb2222", wantErr: "synced revision bbbbbbb2222"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeCD(t, map[string]func() (int, string){
				"GET /api/v1/applications/checkout":           cdReply(200, tc.app),
				"POST /api/v1/applications/checkout/rollback": cdReply(200, `{}`),
			})
			d := store.Deployment{ID: "d1", Provider: "argo", Repo: "checkout", Environment: "production", SHA: tc.sha,
				Handles: map[string]string{"application": "checkout"}}
			for k, v := range tc.handles {
				d.Handles[k] = v
			}
			res, err := cdProvider(t, api).Rollback(context.Background(), rollback.Target{App: "checkout"}, d)
			if tc.wantErr != "" {
				if !rollback.IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want a permanent one containing %q", err, tc.wantErr)
				}
				if n := len(api.Calls()); n != 1 {
					t.Fatalf("%d calls, want only the GET", n)
				}
				return
			}
			if err != nil || res.Ref != tc.wantID {
				t.Fatalf("result %+v, %v; want history id %s", res, err, tc.wantID)
			}
			calls := api.Calls()
			if len(calls) != 2 || calls[1].Body != `{"id":`+tc.wantID+`,"name":"checkout"}` {
				t.Fatalf("calls %+v", calls)
			}
			if !strings.Contains(strings.Join(res.Steps, "\n"), tc.wantStep) {
				t.Fatalf("steps %q do not say %q", res.Steps, tc.wantStep)
			}
		})
	}
}

func TestRollbackErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		permanent bool
		wait      time.Duration
	}{
		{"rate limited is retryable after Retry-After", http.StatusTooManyRequests, false, 7 * time.Second},
		{"a server error is retryable", http.StatusBadGateway, false, 0},
		{"a missing application is permanent", http.StatusNotFound, true, 0},
		{"a refused token is permanent", http.StatusForbidden, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeCD(t, map[string]func() (int, string){"GET /api/v1/applications/checkout": cdReply(tc.status, `{"error":"x"}`)})
			_, err := cdProvider(t, api).Rollback(context.Background(), rollback.Target{}, earlierSync())
			if err == nil || rollback.IsPermanent(err) != tc.permanent {
				t.Fatalf("error %v, want permanent %v", err, tc.permanent)
			}
			var rd providers.RetryDelayer
			if tc.wait > 0 && (!errors.As(err, &rd) || rd.RetryDelay() != tc.wait) {
				t.Fatalf("error %v does not carry a %s wait", err, tc.wait)
			}
		})
	}
	t.Run("without the Argo CD API", func(t *testing.T) {
		p := newProvider(t, Options{HookToken: secret.New(testHookToken, "test")})
		if p.RollbackReady() == nil {
			t.Fatal("ready without argo.argocd_url")
		}
		if _, err := p.Rollback(context.Background(), rollback.Target{}, earlierSync()); !rollback.IsPermanent(err) {
			t.Fatalf("error %v, want permanent", err)
		}
	})
}
