package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

const (
	viewerToken   = "viewer-token-0123456789"
	operatorToken = "operator-token-0123456789"
	alertToken    = "alert-token-0123456789"
)

// fakeRollbacks records what the server asks of the rollback engine.
type fakeRollbacks struct {
	mu       sync.Mutex
	requests []rollback.Request
	runs     []string
	firing   []rollback.Target
	resolved []rollback.Target
	watches  []rollback.Watch
	list     []rollback.Rollback
	// release, when set, holds Run until it is closed.
	release chan struct{}
}

var _ Rollbacks = (*fakeRollbacks)(nil)

func (f *fakeRollbacks) Request(_ context.Context, req rollback.Request) (rollback.Rollback, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	return rollback.Rollback{ID: "rb-1", Target: req.Target, State: rollback.RollbackPending}, true, nil
}

func (f *fakeRollbacks) Run(ctx context.Context, id string) (rollback.Rollback, error) {
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return rollback.Rollback{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, id)
	return rollback.Rollback{ID: id, State: rollback.RollbackSucceeded}, nil
}

func (f *fakeRollbacks) Get(_ context.Context, id string) (rollback.Rollback, error) {
	return rollback.Rollback{}, apperr.NotFound("rollback %s", id)
}

func (f *fakeRollbacks) HandleAlerts(_ context.Context, targets []rollback.Target) ([]rollback.Rollback, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.firing = append(f.firing, targets...)
	var out []rollback.Rollback
	for i, t := range targets {
		out = append(out, rollback.Rollback{ID: "alert-rb-" + string(rune('a'+i)), Target: t, State: rollback.RollbackPending})
	}
	return out, nil
}

func (f *fakeRollbacks) ResolveAlerts(_ context.Context, targets []rollback.Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved = append(f.resolved, targets...)
	return nil
}

func (f *fakeRollbacks) Watches(_ context.Context, live bool, limit int) ([]rollback.Watch, error) {
	var out []rollback.Watch
	for _, w := range f.watches {
		if !live || w.Live() {
			out = append(out, w)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeRollbacks) Rollbacks(_ context.Context, limit int) ([]rollback.Rollback, error) {
	out := f.list
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeRollbacks) ranIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.runs...)
}

// newRollbackServer is a server on a fresh SQLite store with a viewer and
// an operator token, rollback served by rb (off when rb is nil).
func newRollbackServer(t *testing.T, rb *fakeRollbacks) *Server {
	t.Helper()
	s, _ := newRollbackServerStore(t, rb)
	return s
}

// newRollbackServerStore is newRollbackServer with its store.
func newRollbackServerStore(t *testing.T, rb *fakeRollbacks) (*Server, *sqlstore.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "agentgate.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg, err := providers.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, Providers: reg, AlertmanagerToken: alertToken, Tokens: []StaticToken{
		NewStaticToken("vera", config.RoleViewer, viewerToken), NewStaticToken("olga", config.RoleOperator, operatorToken)}}
	if rb != nil {
		o.Rollbacks = rb
	}
	return New(o), st
}

func serve(s *Server, method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func TestListWatches(t *testing.T) {
	start := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	live := rollback.Watch{ID: "w-live", Provider: "github", Repo: "acme/api", Environment: "production", Namespace: "prod",
		AgentID: "id-ship", DeploymentID: "d-2", SHA: "bbbb", Query: `errors{namespace="{{.Namespace}}"}`, Threshold: 0.05,
		TripAfter: 3, Interval: time.Second, StartedAt: start, EndsAt: start.Add(time.Minute), NextAt: start.Add(time.Second), State: rollback.StateWatching,
		Readings: []rollback.Reading{{At: start, Value: 0.07, HasData: true}}}
	ended := live
	ended.ID, ended.Ended, ended.State, ended.AgentID = "w-ended", true, rollback.StatePassed, "id-gone"
	rb := &fakeRollbacks{watches: []rollback.Watch{live, ended}}
	s, st := newRollbackServerStore(t, rb)
	if err := st.CreateAgent(t.Context(), agents.Agent{ID: "id-ship", Name: "ship-bot", Type: agents.TypeDeployment, Owner: "platform",
		Tier: agents.TierNew, State: agents.StateActive, CreatedAt: start, UpdatedAt: start, Version: 1}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		token    string
		off      bool
		wantCode int
		wantIDs  []string
		wantErr  string
	}{
		{name: "live watches for a viewer", path: "/api/v1/rollback/watches", token: viewerToken, wantCode: 200, wantIDs: []string{"w-live"}},
		{name: "every watch", path: "/api/v1/rollback/watches?all=true", token: viewerToken, wantCode: 200, wantIDs: []string{"w-live", "w-ended"}},
		{name: "limited", path: "/api/v1/rollback/watches?all=true&limit=1", token: viewerToken, wantCode: 200, wantIDs: []string{"w-live"}},
		{name: "no token", path: "/api/v1/rollback/watches", wantCode: 401, wantErr: "missing bearer token"},
		{name: "limit out of range", path: "/api/v1/rollback/watches?limit=5000", token: viewerToken, wantCode: 400, wantErr: "limit"},
		{name: "limit not a number", path: "/api/v1/rollback/watches?limit=ten", token: viewerToken, wantCode: 400, wantErr: "limit"},
		{name: "all neither true nor false", path: "/api/v1/rollback/watches?all=yes", token: viewerToken, wantCode: 400, wantErr: "all must be true or false"},
		{name: "rollback off", path: "/api/v1/rollback/watches", token: viewerToken, off: true, wantCode: 503, wantErr: "rollback.prometheus_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := s
			if tc.off {
				srv = newRollbackServer(t, nil)
			}
			rec := serve(srv, http.MethodGet, tc.path, tc.token, "")
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantErr) {
				t.Fatalf("%d %s, want %d containing %q", rec.Code, rec.Body, tc.wantCode, tc.wantErr)
			}
			if tc.wantIDs == nil {
				return
			}
			var got struct{ Items []rollback.WatchStatus }
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, w := range got.Items {
				ids = append(ids, w.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.wantIDs, ",") {
				t.Fatalf("watches %v, want %v", ids, tc.wantIDs)
			}
			w := got.Items[0]
			if w.Agent != "ship-bot" || w.Query != `errors{namespace="prod"}` || w.NextCheck == nil || !w.NextCheck.Equal(start.Add(time.Second)) ||
				w.LastReading == nil || w.LastReading.Value != 0.07 || w.Interval != "1s" {
				t.Fatalf("live watch shown as %+v", w)
			}
			if len(got.Items) > 1 && (got.Items[1].NextCheck != nil || got.Items[1].Agent != "") {
				t.Fatalf("ended watch of an unknown agent shown as %+v", got.Items[1])
			}
		})
	}
}

func TestAlertmanagerWebhook(t *testing.T) {
	payload := func(alerts ...string) string {
		return `{"version":"4","status":"firing","receiver":"agentgate","groupKey":"{}:{}","alerts":[` + strings.Join(alerts, ",") + `]}`
	}
	alert := func(status, repo string) string {
		return `{"status":"` + status + `","labels":{"alertname":"HighErrorRate","agentgate_provider":"github","agentgate_repo":"` + repo +
			`","agentgate_environment":"production"},"startsAt":"2026-11-22T11:00:00Z","fingerprint":"f-` + repo + `"}`
	}
	tests := []struct {
		name         string
		token        string
		serverToken  string
		body         string
		wantCode     int
		wantErr      string
		wantFiring   []string
		wantResolved []string
	}{
		{name: "firing and resolved targets", token: alertToken, body: payload(alert("firing", "acme/api"), alert("resolved", "acme/web")),
			wantCode: 200, wantFiring: []string{"acme/api"}, wantResolved: []string{"acme/web"}},
		{name: "wrong token", token: "nope", body: payload(alert("firing", "acme/api")), wantCode: 401, wantErr: "bearer token"},
		{name: "no token configured fails closed", token: "", serverToken: "-", body: payload(alert("firing", "acme/api")), wantCode: 401, wantErr: "bearer token"},
		{name: "not Alertmanager's payload", token: alertToken, body: `{"version":"3","status":"firing","alerts":[]}`, wantCode: 400, wantErr: "version"},
		{name: "trailing data", token: alertToken, body: payload() + `{}`, wantCode: 400, wantErr: "trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rb := &fakeRollbacks{}
			s := newRollbackServer(t, rb)
			if tc.serverToken == "-" {
				s.alertToken = ""
			}
			rec := serve(s, http.MethodPost, "/webhooks/alertmanager", tc.token, tc.body)
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantErr) {
				t.Fatalf("%d %s, want %d containing %q", rec.Code, rec.Body, tc.wantCode, tc.wantErr)
			}
			s.Drain(t.Context())
			repos := func(ts []rollback.Target) string {
				var out []string
				for _, t := range ts {
					out = append(out, t.Repo)
				}
				return strings.Join(out, ",")
			}
			if got, want := repos(rb.firing), strings.Join(tc.wantFiring, ","); got != want {
				t.Fatalf("rolled back %q, want %q", got, want)
			}
			if got, want := repos(rb.resolved), strings.Join(tc.wantResolved, ","); got != want {
				t.Fatalf("resolved %q, want %q", got, want)
			}
			if len(tc.wantFiring) > 0 && len(rb.ranIDs()) != len(tc.wantFiring) {
				t.Fatalf("ran %v after the answer, want %d rollbacks", rb.ranIDs(), len(tc.wantFiring))
			}
		})
	}
}

// TestRollbackRunsAreAwaited: the rollback a request started runs after
// the answer as the server's work; Drain waits for it, and cancels it when
// its deadline passes.
func TestRollbackRunsAreAwaited(t *testing.T) {
	body := `{"provider":"github","repo":"acme/api","environment":"production","reason":"5xx"}`
	t.Run("drain waits for the rollback", func(t *testing.T) {
		rb := &fakeRollbacks{release: make(chan struct{})}
		s := newRollbackServer(t, rb)
		rec := serve(s, http.MethodPost, "/api/v1/rollbacks", operatorToken, body)
		if rec.Code != http.StatusAccepted || rec.Header().Get("Location") != "/api/v1/rollbacks/rb-1" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if len(rb.ranIDs()) != 0 {
			t.Fatal("the rollback ran before it was released")
		}
		time.AfterFunc(50*time.Millisecond, func() { close(rb.release) })
		s.Drain(t.Context())
		if got := rb.ranIDs(); len(got) != 1 || got[0] != "rb-1" {
			t.Fatalf("ran %v after drain, want rb-1", got)
		}
	})
	t.Run("drain cancels it at its deadline", func(t *testing.T) {
		rb := &fakeRollbacks{release: make(chan struct{})}
		s := newRollbackServer(t, rb)
		if rec := serve(s, http.MethodPost, "/api/v1/rollbacks", operatorToken, body); rec.Code != http.StatusAccepted {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		s.Drain(ctx)
		if got := rb.ranIDs(); len(got) != 0 {
			t.Fatalf("ran %v, want the run cancelled", got)
		}
	})
	t.Run("a viewer cannot start one", func(t *testing.T) {
		rb := &fakeRollbacks{}
		s := newRollbackServer(t, rb)
		if rec := serve(s, http.MethodPost, "/api/v1/rollbacks", viewerToken, body); rec.Code != http.StatusForbidden {
			t.Fatalf("%d %s, want 403", rec.Code, rec.Body)
		}
		if rec := serve(s, http.MethodPost, "/api/v1/rollbacks", operatorToken, `{"provider":"github","repo":"acme/api","environment":"production"}`); rec.Code != http.StatusBadRequest {
			t.Fatalf("no reason: %d %s, want 400", rec.Code, rec.Body)
		}
		s.Drain(t.Context())
		if len(rb.requests) != 0 {
			t.Fatalf("requests %+v, want none", rb.requests)
		}
	})
}

func TestListRollbacks(t *testing.T) {
	at := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	rbs := []rollback.Rollback{
		{ID: "rb-new", Target: rollback.Target{Provider: "github", Repo: "acme/api", Environment: "production"}, State: rollback.RollbackRunning, CreatedAt: at},
		{ID: "rb-old", Target: rollback.Target{Provider: "argo", App: "shop", Environment: "production"}, State: rollback.RollbackSucceeded, CreatedAt: at.Add(-time.Hour)},
	}
	tests := []struct {
		name     string
		path     string
		token    string
		list     []rollback.Rollback
		off      bool
		wantCode int
		wantIDs  []string
		wantErr  string
	}{
		{name: "newest first for a viewer", path: "/api/v1/rollbacks", token: viewerToken, list: rbs, wantCode: 200, wantIDs: []string{"rb-new", "rb-old"}},
		{name: "limited", path: "/api/v1/rollbacks?limit=1", token: viewerToken, list: rbs, wantCode: 200, wantIDs: []string{"rb-new"}},
		{name: "none is an empty list", path: "/api/v1/rollbacks", token: viewerToken, wantCode: 200, wantIDs: []string{}},
		{name: "no token", path: "/api/v1/rollbacks", wantCode: 401, wantErr: "missing bearer token"},
		{name: "limit out of range", path: "/api/v1/rollbacks?limit=1001", token: viewerToken, wantCode: 400, wantErr: "limit"},
		{name: "rollback off", path: "/api/v1/rollbacks", token: viewerToken, off: true, wantCode: 503, wantErr: "rollback.prometheus_url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRollbackServer(t, nil)
			if !tc.off {
				srv = newRollbackServer(t, &fakeRollbacks{list: tc.list})
			}
			rec := serve(srv, http.MethodGet, tc.path, tc.token, "")
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantErr) {
				t.Fatalf("%d %s, want %d containing %q", rec.Code, rec.Body, tc.wantCode, tc.wantErr)
			}
			if tc.wantIDs == nil {
				return
			}
			var got struct{ Items []rollback.Rollback }
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Items == nil {
				t.Fatalf("items absent or null in %s", rec.Body)
			}
			ids := []string{}
			for _, r := range got.Items {
				ids = append(ids, r.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.wantIDs, ",") {
				t.Fatalf("rollbacks %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}
