package github

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/secret"
	"github.com/agentgate/agentgate/internal/store"
)

// earlierDeployment is the deployment a rollback returns to.
func earlierDeployment() store.Deployment {
	return store.Deployment{
		ID: "d1", Provider: "github", Repo: "shop/checkout", Environment: "production", SHA: "aaaaaaa1111", Ref: "refs/heads/main",
		Handles: map[string]string{"run_id": "111", "workflow_path": ".github/workflows/deploy.yml", "installation_id": "4242"},
	}
}

const (
	rerunPath    = "/repos/shop/checkout/actions/runs/111/rerun"
	dispatchPath = "/repos/shop/checkout/actions/workflows/deploy.yml/dispatches"
)

func TestRollback(t *testing.T) {
	dispatchBody := map[string]any{"ref": "refs/heads/main", "inputs": map[string]any{"sha": "aaaaaaa1111"}}
	tests := []struct {
		name      string
		mode      string
		reply     reply
		wantPath  string
		wantBody  map[string]any
		wantErr   string
		permanent bool
		wait      time.Duration
	}{
		{name: "rerun", mode: RollbackRerun, reply: reply{status: 201, body: "{}"}, wantPath: rerunPath},
		{name: "rerun is the default", reply: reply{status: 201, body: "{}"}, wantPath: rerunPath},
		{name: "dispatch", mode: RollbackDispatch, reply: reply{status: 204}, wantPath: dispatchPath, wantBody: dispatchBody},
		{name: "a run too old to re-run is permanent", mode: RollbackRerun, wantPath: rerunPath,
			reply: reply{status: 403, body: `{"message":"Unable to retry this workflow run because it was created over a month ago"}`}, wantErr: "403", permanent: true},
		{name: "rate limited is retryable after Retry-After", mode: RollbackRerun, wantPath: rerunPath,
			reply: reply{status: 429, headers: map[string]string{"Retry-After": "7"}, body: `{"message":"Too Many Requests"}`}, wantErr: "429", wait: 7 * time.Second},
		{name: "a server error is retryable", mode: RollbackDispatch, wantPath: dispatchPath, wantBody: dispatchBody,
			reply: reply{status: 502, body: `{"message":"Bad Gateway"}`}, wantErr: "502"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			route := "POST " + tc.wantPath
			f := newFakeGitHub(t, map[string]reply{route: tc.reply})
			o := tokenOptions(f)
			o.RollbackMode = tc.mode
			p := newProvider(t, o)
			res, err := p.Rollback(context.Background(), rollback.Target{Provider: Name}, earlierDeployment())
			calls := f.recorded(false)
			if len(calls) != 1 || calls[0].Method+" "+calls[0].Path != route || calls[0].Auth != "Bearer ghp_test_token" {
				t.Fatalf("calls %+v, want one %s with the token", calls, route)
			}
			if tc.wantBody != nil && !equalJSON(calls[0].Body, tc.wantBody) {
				t.Fatalf("body %v, want %v", calls[0].Body, tc.wantBody)
			}
			if tc.wantErr == "" {
				if err != nil || len(res.Steps) != 1 || res.Provider != Name {
					t.Fatalf("result %+v, %v", res, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || rollback.IsPermanent(err) != tc.permanent {
				t.Fatalf("error %v, want %q permanent %v", err, tc.wantErr, tc.permanent)
			}
			var rd providers.RetryDelayer
			if tc.wait > 0 && (!errors.As(err, &rd) || rd.RetryDelay() != tc.wait) {
				t.Fatalf("error %v does not carry a %s wait", err, tc.wait)
			}
		})
	}
}

// TestRollbackAsGitHubApp: with GitHub App credentials the rollback uses
// the installation token of the deployment's installation.
func TestRollbackAsGitHubApp(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	f := newFakeGitHub(t, map[string]reply{
		"POST /app/installations/4242/access_tokens": {status: 201, body: `{"token":"ghs_inst_4242","expires_at":"` + expires + `"}`},
	})
	p := newProvider(t, Options{WebhookSecret: secret.New(testSecret, "test"), AppID: 99,
		PrivateKey: secret.New(keyPEM, "test"), BaseURL: f.URL + "/", HTTPClient: f.Client()})
	if err := p.RollbackReady(); err != nil {
		t.Fatalf("RollbackReady with a GitHub App: %v", err)
	}
	res, err := p.Rollback(context.Background(), rollback.Target{Provider: Name}, earlierDeployment())
	if err != nil || res.Ref != "111" {
		t.Fatalf("result %+v, %v", res, err)
	}
	calls := f.recorded(true)
	if len(calls) != 2 || calls[0].Path != "/app/installations/4242/access_tokens" || calls[1].Path != rerunPath || calls[1].Auth != "token ghs_inst_4242" {
		t.Fatalf("calls %+v", calls)
	}
	checkJWT(t, calls[0].Auth, &key.PublicKey, 99)

	d := earlierDeployment()
	delete(d.Handles, "installation_id")
	if _, err := p.Rollback(context.Background(), rollback.Target{}, d); !rollback.IsPermanent(err) || !strings.Contains(err.Error(), "installation id") {
		t.Fatalf("no installation id: %v, want a permanent error naming it", err)
	}
}

func TestRollbackRefusesWithoutWhatItNeeds(t *testing.T) {
	tests := []struct {
		name, mode string
		mutate     func(*store.Deployment)
	}{
		{"no run id", RollbackRerun, func(d *store.Deployment) { delete(d.Handles, "run_id") }},
		{"a run id that is not a number", RollbackRerun, func(d *store.Deployment) { d.Handles["run_id"] = "x" }},
		{"no workflow", RollbackDispatch, func(d *store.Deployment) { delete(d.Handles, "workflow_path") }},
		{"no sha", RollbackDispatch, func(d *store.Deployment) { d.SHA = "" }},
		{"a repo that is not owner/name", RollbackRerun, func(d *store.Deployment) { d.Repo = "nope" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t, nil)
			o := tokenOptions(f)
			o.RollbackMode = tc.mode
			d := earlierDeployment()
			tc.mutate(&d)
			if _, err := newProvider(t, o).Rollback(context.Background(), rollback.Target{}, d); !rollback.IsPermanent(err) {
				t.Fatalf("error %v, want permanent", err)
			}
			if n := len(f.recorded(true)); n != 0 {
				t.Fatalf("%d calls made", n)
			}
		})
	}
	t.Run("an unknown mode", func(t *testing.T) {
		if _, err := New(Options{RollbackMode: "yolo"}); err == nil || !strings.Contains(err.Error(), "yolo") {
			t.Fatalf("New = %v, want the mode refused", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		p := newProvider(t, Options{WebhookSecret: secret.New(testSecret, "test")})
		if err := p.RollbackReady(); err == nil {
			t.Fatal("ready without credentials")
		}
	})
}

func equalJSON(a, b map[string]any) bool {
	return fmtJSON(a) == fmtJSON(b)
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
