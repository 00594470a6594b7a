package gitlab

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/secret"
	"github.com/agentgate/agentgate/internal/store"
)

// earlierDeployment is the deployment a rollback returns to.
func earlierDeployment() store.Deployment {
	return store.Deployment{ID: "d1", Provider: "gitlab", Repo: "grp/api", Environment: "production", SHA: "aaaaaaa1111",
		Handles: map[string]string{"project_id": "42", "deployable_id": "555"}}
}

func TestRollback(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*store.Deployment)
		route     string
		reply     reply
		wantRef   string
		wantURL   string
		wantErr   bool
		permanent bool
		wait      time.Duration
	}{
		{name: "retries the deploy job", route: "POST /api/v4/projects/42/jobs/555/retry",
			reply: reply{status: 201, body: `{"id":777,"web_url":"https://gitlab.example/grp/api/-/jobs/777"}`}, wantRef: "777", wantURL: "https://gitlab.example/grp/api/-/jobs/777"},
		{name: "by project path without a project id", mutate: func(d *store.Deployment) { delete(d.Handles, "project_id") },
			route: "POST /api/v4/projects/grp%2Fapi/jobs/555/retry", reply: reply{status: 201, body: `{"id":778}`}, wantRef: "778"},
		{name: "a server error is retryable", route: "POST /api/v4/projects/42/jobs/555/retry", reply: reply{status: 500, body: `{"message":"boom"}`}, wantErr: true},
		{name: "rate limited waits as asked", route: "POST /api/v4/projects/42/jobs/555/retry",
			reply: reply{status: 429, headers: map[string]string{"Retry-After": "9"}, body: `{"message":"Retry later"}`}, wantErr: true, wait: 9 * time.Second},
		{name: "a job that cannot be retried is permanent", route: "POST /api/v4/projects/42/jobs/555/retry",
			reply: reply{status: 403, body: `{"message":"403 Forbidden - Job is not retryable"}`}, wantErr: true, permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitLab(t, map[string]reply{tc.route: tc.reply})
			d := earlierDeployment()
			if tc.mutate != nil {
				tc.mutate(&d)
			}
			res, err := newProvider(t, apiOptions(f)).Rollback(context.Background(), rollback.Target{}, d)
			calls := f.recorded()
			if len(calls) != 1 || calls[0].Method+" "+calls[0].Path != tc.route || calls[0].Token != "glpat-test-token" {
				t.Fatalf("calls %+v, want one %s with the API token", calls, tc.route)
			}
			if !tc.wantErr {
				if err != nil || res.Ref != tc.wantRef || res.URL != tc.wantURL || res.Method != "job_retry" || len(res.Steps) != 1 {
					t.Fatalf("result %+v, %v", res, err)
				}
				return
			}
			if err == nil || rollback.IsPermanent(err) != tc.permanent {
				t.Fatalf("error %v, want permanent %v", err, tc.permanent)
			}
			var rd providers.RetryDelayer
			if tc.wait > 0 && (!errors.As(err, &rd) || rd.RetryDelay() != tc.wait) {
				t.Fatalf("error %v does not carry a %s wait", err, tc.wait)
			}
		})
	}
	t.Run("no job to retry", func(t *testing.T) {
		f := newFakeGitLab(t, nil)
		d := earlierDeployment()
		delete(d.Handles, "deployable_id")
		if _, err := newProvider(t, apiOptions(f)).Rollback(context.Background(), rollback.Target{}, d); !rollback.IsPermanent(err) {
			t.Fatalf("error %v, want permanent", err)
		}
		if len(f.recorded()) != 0 {
			t.Fatal("a call was made")
		}
	})
	t.Run("no API token", func(t *testing.T) {
		p := newProvider(t, Options{WebhookToken: secret.New(testToken, "test")})
		if p.RollbackReady() == nil {
			t.Fatal("ready without gitlab.api_token")
		}
	})
}
