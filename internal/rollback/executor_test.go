package rollback

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
	"github.com/agentgate/agentgate/internal/store"
)

// call is one request a fake provider API received.
type call struct{ Method, Path, Query, Body, Auth string }

// fakeAPI records requests and answers them from a route table
// ("METHOD /path" → status and body); unknown routes get 404.
type fakeAPI struct {
	mu     sync.Mutex
	calls  []call
	times  []time.Time // when each call arrived
	routes map[string]func() (int, string)
	srv    *httptest.Server
}

func newFakeAPI(t *testing.T, routes map[string]func() (int, string)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization") + r.Header.Get("PRIVATE-TOKEN")
		f.mu.Lock()
		f.calls = append(f.calls, call{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b), auth})
		f.times = append(f.times, time.Now())
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

func (f *fakeAPI) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func reply(status int, body string) func() (int, string) {
	return func() (int, string) { return status, body }
}

func prevDeployment() store.Deployment {
	return store.Deployment{
		ID: "d1", Provider: "github", Repo: "shop/checkout", Environment: "production", SHA: "aaaaaaa1111", Ref: "refs/heads/main",
		Handles: map[string]string{"run_id": "111", "workflow_path": ".github/workflows/deploy.yml", "deployable_id": "555",
			"project_id": "42", "application": "checkout", "app_namespace": "argocd", "history_id": "9"},
	}
}

func TestGitHubExecutor(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		route     string
		status    int
		wantCall  call
		wantErr   string
		permanent bool
	}{
		{"rerun", GitHubRerun, "POST /repos/shop/checkout/actions/runs/111/rerun", 201,
			call{Method: "POST", Path: "/repos/shop/checkout/actions/runs/111/rerun", Auth: "Bearer tok"}, "", false},
		{"dispatch", GitHubDispatch, "POST /repos/shop/checkout/actions/workflows/deploy.yml/dispatches", 204,
			call{Method: "POST", Path: "/repos/shop/checkout/actions/workflows/deploy.yml/dispatches", Auth: "Bearer tok",
				Body: `{"inputs":{"sha":"aaaaaaa1111"},"ref":"refs/heads/main"}`}, "", false},
		{"rerun too old is permanent", GitHubRerun, "POST /repos/shop/checkout/actions/runs/111/rerun", 403,
			call{Method: "POST", Path: "/repos/shop/checkout/actions/runs/111/rerun", Auth: "Bearer tok"}, "403", true},
		{"rate limited is retryable", GitHubRerun, "POST /repos/shop/checkout/actions/runs/111/rerun", 429,
			call{Method: "POST", Path: "/repos/shop/checkout/actions/runs/111/rerun", Auth: "Bearer tok"}, "429", false},
		{"server error is retryable", GitHubDispatch, "POST /repos/shop/checkout/actions/workflows/deploy.yml/dispatches", 502,
			call{Method: "POST", Path: "/repos/shop/checkout/actions/workflows/deploy.yml/dispatches", Auth: "Bearer tok",
				Body: `{"inputs":{"sha":"aaaaaaa1111"},"ref":"refs/heads/main"}`}, "502", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]func() (int, string){tc.route: reply(tc.status, "")})
			ex, err := NewGitHubExecutor(GitHubConfig{BaseURL: api.srv.URL, Token: "tok", Mode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			res, err := ex.Rollback(context.Background(), Target{Provider: "github"}, prevDeployment())
			calls := api.Calls()
			if len(calls) != 1 || calls[0] != tc.wantCall {
				t.Fatalf("calls %+v, want %+v", calls, tc.wantCall)
			}
			if tc.wantErr == "" {
				if err != nil || res.Method != tc.mode || len(res.Steps) != 1 {
					t.Fatalf("result %+v, %v", res, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || IsPermanent(err) != tc.permanent {
				t.Fatalf("error %v, want %q permanent %v", err, tc.wantErr, tc.permanent)
			}
			var rd providers.RetryDelayer
			if tc.status == 429 && (!errors.As(err, &rd) || rd.RetryDelay() != 7*time.Second) {
				t.Fatalf("429 error %v carries no 7s Retry-After", err)
			}
		})
	}
}

func TestGitHubExecutorMissingHandles(t *testing.T) {
	tests := []struct {
		name, mode string
		mutate     func(*store.Deployment)
	}{
		{"no run id", GitHubRerun, func(d *store.Deployment) { delete(d.Handles, "run_id") }},
		{"bad run id", GitHubRerun, func(d *store.Deployment) { d.Handles["run_id"] = "x" }},
		{"no workflow", GitHubDispatch, func(d *store.Deployment) { delete(d.Handles, "workflow_path") }},
		{"no sha", GitHubDispatch, func(d *store.Deployment) { d.SHA = "" }},
		{"bad repo", GitHubRerun, func(d *store.Deployment) { d.Repo = "nope" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, nil)
			ex, err := NewGitHubExecutor(GitHubConfig{BaseURL: api.srv.URL, Mode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			d := prevDeployment()
			tc.mutate(&d)
			if _, err := ex.Rollback(context.Background(), Target{}, d); !IsPermanent(err) {
				t.Fatalf("error %v, want permanent", err)
			}
			if n := len(api.Calls()); n != 0 {
				t.Fatalf("%d calls made", n)
			}
		})
	}
	if _, err := NewGitHubExecutor(GitHubConfig{Mode: "yolo"}); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestGitLabExecutor(t *testing.T) {
	api := newFakeAPI(t, map[string]func() (int, string){
		"POST /api/v4/projects/42/jobs/555/retry":        reply(201, `{"id":777,"web_url":"https://gitlab.example/j/777"}`),
		"POST /api/v4/projects/grp%2Fapi/jobs/555/retry": reply(201, `{"id":778}`),
		"POST /api/v4/projects/43/jobs/555/retry":        reply(500, `boom`),
	})
	ex := NewGitLabExecutor(GitLabConfig{BaseURL: api.srv.URL, Token: "glpat"})
	res, err := ex.Rollback(context.Background(), Target{}, prevDeployment())
	if err != nil || res.Ref != "777" || res.URL != "https://gitlab.example/j/777" || res.Method != "job_retry" {
		t.Fatalf("result %+v, %v", res, err)
	}
	d := prevDeployment()
	delete(d.Handles, "project_id")
	d.Repo = "grp/api"
	if res, err := ex.Rollback(context.Background(), Target{}, d); err != nil || res.Ref != "778" {
		t.Fatalf("by path: %+v, %v", res, err)
	}
	d.Handles["project_id"] = "43"
	if _, err := ex.Rollback(context.Background(), Target{}, d); err == nil || IsPermanent(err) {
		t.Fatalf("500: %v, want retryable", err)
	}
	want := []call{
		{Method: "POST", Path: "/api/v4/projects/42/jobs/555/retry", Auth: "glpat"},
		{Method: "POST", Path: "/api/v4/projects/grp%2Fapi/jobs/555/retry", Auth: "glpat"},
		{Method: "POST", Path: "/api/v4/projects/43/jobs/555/retry", Auth: "glpat"},
	}
	if got := api.Calls(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("calls %+v", got)
	}
}

func TestArgoCDExecutor(t *testing.T) {
	tests := []struct {
		name      string
		app       string
		wantCalls []call
	}{
		{"auto-sync switched off first", `{"spec":{"syncPolicy":{"automated":{"prune":true}}}}`, []call{
			{Method: "GET", Path: "/api/v1/applications/checkout", Query: "appNamespace=argocd", Auth: "Bearer argo"},
			{Method: "PATCH", Path: "/api/v1/applications/checkout", Query: "appNamespace=argocd", Auth: "Bearer argo",
				Body: `{"appNamespace":"argocd","name":"checkout","patch":"{\"spec\":{\"syncPolicy\":{\"automated\":null}}}","patchType":"merge"}`},
			{Method: "POST", Path: "/api/v1/applications/checkout/rollback", Auth: "Bearer argo",
				Body: `{"appNamespace":"argocd","id":9,"name":"checkout"}`},
		}},
		{"manual sync app", `{"spec":{"syncPolicy":{}}}`, []call{
			{Method: "GET", Path: "/api/v1/applications/checkout", Query: "appNamespace=argocd", Auth: "Bearer argo"},
			{Method: "POST", Path: "/api/v1/applications/checkout/rollback", Auth: "Bearer argo",
				Body: `{"appNamespace":"argocd","id":9,"name":"checkout"}`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]func() (int, string){
				"GET /api/v1/applications/checkout":           reply(200, tc.app),
				"PATCH /api/v1/applications/checkout":         reply(200, tc.app),
				"POST /api/v1/applications/checkout/rollback": reply(200, `{}`),
			})
			ex := NewArgoCDExecutor(ArgoCDConfig{BaseURL: api.srv.URL, Token: "argo"})
			res, err := ex.Rollback(context.Background(), Target{App: "checkout"}, prevDeployment())
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
		d := prevDeployment()
		d.Handles["history_id"] = "nine"
		if _, err := NewArgoCDExecutor(ArgoCDConfig{BaseURL: "http://127.0.0.1:1"}).Rollback(context.Background(), Target{}, d); !IsPermanent(err) {
			t.Fatalf("error %v, want permanent", err)
		}
	})
}

// TestArgoCDExecutorResolvesHistory: a deployment recorded without a
// history id (a notification template that sent none) is rolled back to the
// id the application's history gives for its revision.
func TestArgoCDExecutorResolvesHistory(t *testing.T) {
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
			api := newFakeAPI(t, map[string]func() (int, string){
				"GET /api/v1/applications/checkout":           reply(200, tc.app),
				"POST /api/v1/applications/checkout/rollback": reply(200, `{}`),
			})
			d := store.Deployment{ID: "d1", Provider: "argo", Repo: "checkout", Environment: "production", SHA: tc.sha,
				Handles: map[string]string{"application": "checkout"}}
			for k, v := range tc.handles {
				d.Handles[k] = v
			}
			res, err := NewArgoCDExecutor(ArgoCDConfig{BaseURL: api.srv.URL, Token: "argo"}).Rollback(context.Background(), Target{App: "checkout"}, d)
			if tc.wantErr != "" {
				if !IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr) {
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

// firstCallAt is when the first call arrived.
func (f *fakeAPI) firstCallAt() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.times) == 0 {
		return time.Time{}
	}
	return f.times[0]
}
