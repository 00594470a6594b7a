package gitlab

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
)

const fixtureSHA = "bcbb5ec396a2c0f828686f14fac9b80b780504f2"

// fixtureEvent parses a fixture and returns its first event.
func fixtureEvent(t *testing.T, name string) event.Event {
	t.Helper()
	p := newProvider(t, Options{WebhookToken: secret.New(testToken, "test"), RunnerRates: testRates()})
	d, err := p.Parse(headers(hookOf(name), "u"), fixtures(t)[name])
	if err != nil || len(d.Events) == 0 {
		t.Fatalf("fixture %s: %v, %+v", name, err, d)
	}
	return d.Events[0]
}

func TestEnforce(t *testing.T) {
	const blockedList = `[{"id":77,"status":"blocked","deployable":{"id":4000}},{"id":78,"status":"blocked","deployable":{"id":5009}}]`
	human := func(ev event.Event) event.Event {
		ev.Principal, ev.Machine, ev.Trigger = "gitlab:jsmith", false, event.Trigger{}
		return ev
	}
	tests := []struct {
		name    string
		fixture string
		mutate  func(event.Event) event.Event
		d       providers.Decision
		replies map[string]reply
		want    []call
	}{
		{name: "denied pipeline is cancelled and marked failed", fixture: "pipeline.pending.bot-variables",
			d: providers.Decision{DecisionID: "dec-1", Effective: "deny", Reasons: []string{"unregistered_agent: gitlab:project_42_bot_5f3a9c is no registered agent"}},
			want: []call{
				{Method: "POST", Path: "/api/v4/projects/42/pipelines/1031/cancel"},
				{Method: "POST", Path: "/api/v4/projects/42/statuses/" + fixtureSHA, Body: map[string]any{
					"state": "failed", "name": "agentgate", "ref": "main", "pipeline_id": float64(1031),
					"description": "Refused by agentgate (decision dec-1): unregistered_agent: gitlab:project_42_bot_5f3a9c is no registered agent"}},
			}},
		{name: "held pipeline is cancelled with a canceled status", fixture: "pipeline.pending.bot-variables",
			d: providers.Decision{Effective: "approval_required", ApprovalID: "ap-9"},
			want: []call{
				{Method: "POST", Path: "/api/v4/projects/42/pipelines/1031/cancel"},
				{Method: "POST", Path: "/api/v4/projects/42/statuses/" + fixtureSHA, Body: map[string]any{
					"state": "canceled", "name": "agentgate", "ref": "main", "pipeline_id": float64(1031),
					"description": "Held for approval by agentgate (approval ap-9); GitLab cannot pause a pipeline, so it was cancelled: run it again once approved"}},
			}},
		{name: "allowed pipeline: nothing", fixture: "pipeline.pending.bot-variables", d: providers.Decision{Effective: "allow", AgentName: "coder"}},
		{name: "running pipeline is a report: nothing", fixture: "pipeline.running", d: providers.Decision{Effective: "deny"}},
		{name: "repeated failed status counts as set", fixture: "pipeline.pending.human",
			d:       providers.Decision{Effective: "deny"},
			replies: map[string]reply{"POST /api/v4/projects/42/statuses/" + fixtureSHA: {status: 400, body: `{"message":"Cannot transition status via :drop from :failed"}`}},
			want: []call{
				{Method: "POST", Path: "/api/v4/projects/42/pipelines/1031/cancel"},
				{Method: "POST", Path: "/api/v4/projects/42/statuses/" + fixtureSHA, Body: map[string]any{
					"state": "failed", "name": "agentgate", "ref": "main", "pipeline_id": float64(1031), "description": "Refused by agentgate"}},
			}},
		{name: "agent's blocked deployment allowed is approved", fixture: "deployment.blocked.bot",
			d: providers.Decision{Effective: "allow", AgentName: "coder", DecisionID: "dec-2"},
			want: []call{{Method: "POST", Path: "/api/v4/projects/42/deployments/15/approval",
				Body: map[string]any{"status": "approved", "comment": "Approved by agentgate: agent coder, decision dec-2"}}}},
		{name: "agent's blocked deployment denied is rejected", fixture: "deployment.blocked.bot",
			d: providers.Decision{Effective: "deny", AgentName: "coder", Reasons: []string{"scope.production: coder may not deploy to production"}},
			want: []call{{Method: "POST", Path: "/api/v4/projects/42/deployments/15/approval",
				Body: map[string]any{"status": "rejected", "comment": "Rejected by agentgate: scope.production: coder may not deploy to production"}}}},
		{name: "held deployment waits", fixture: "deployment.blocked.bot", d: providers.Decision{Effective: "approval_required", AgentName: "coder"}},
		{name: "human's blocked deployment is left to GitLab", fixture: "deployment.blocked.bot", mutate: human, d: providers.Decision{Effective: "allow"}},
		{name: "blocked job's deployment is looked up", fixture: "job.manual.deploy-blocked",
			d:       providers.Decision{Effective: "allow", AgentName: "coder"},
			replies: map[string]reply{"GET /api/v4/projects/42/deployments": {status: 200, body: blockedList}},
			want: []call{
				{Method: "GET", Path: "/api/v4/projects/42/deployments", Query: "environment=production&order_by=id&per_page=100&sort=desc&status=blocked"},
				{Method: "POST", Path: "/api/v4/projects/42/deployments/78/approval", Body: map[string]any{"status": "approved", "comment": "Approved by agentgate: agent coder"}},
			}},
		{name: "manual job without a blocked deployment: nothing to approve", fixture: "job.manual.deploy-blocked",
			d:       providers.Decision{Effective: "deny", AgentName: "coder"},
			replies: map[string]reply{"GET /api/v4/projects/42/deployments": {status: 200, body: `[]`}},
			want:    []call{{Method: "GET", Path: "/api/v4/projects/42/deployments", Query: "environment=production&order_by=id&per_page=100&sort=desc&status=blocked"}}},
		{name: "successful deployment report: nothing", fixture: "deployment.success", d: providers.Decision{Effective: "deny"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitLab(t, tc.replies)
			p := newProvider(t, apiOptions(f))
			ev := fixtureEvent(t, tc.fixture)
			if tc.mutate != nil {
				ev = tc.mutate(ev)
			}
			if err := p.Enforce(context.Background(), ev, tc.d); err != nil && !errors.Is(err, providers.ErrNoAction) {
				t.Fatalf("Enforce: %v", err)
			}
			got := f.recorded()
			for i := range got {
				if got[i].Token != "glpat-test-token" {
					t.Fatalf("call %d sent token %q", i, got[i].Token)
				}
				got[i].Token = ""
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("calls:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string
		approved bool
		comment  string
		want     call
	}{
		{name: "approve a held deployment", fixture: "deployment.blocked.bot", approved: true, comment: "ok by jane",
			want: call{Method: "POST", Path: "/api/v4/projects/42/deployments/15/approval", Body: map[string]any{"status": "approved", "comment": "ok by jane"}}},
		{name: "reject with the default comment", fixture: "deployment.blocked.bot",
			want: call{Method: "POST", Path: "/api/v4/projects/42/deployments/15/approval", Body: map[string]any{"status": "rejected", "comment": "Rejected in agentgate"}}},
		{name: "held pipeline approved", fixture: "pipeline.pending.bot-variables", approved: true,
			want: call{Method: "POST", Path: "/api/v4/projects/42/statuses/" + fixtureSHA, Body: map[string]any{
				"state": "success", "name": "agentgate", "ref": "main", "pipeline_id": float64(1031),
				"description": "Approved in agentgate; run the pipeline again to proceed"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitLab(t, nil)
			p := newProvider(t, apiOptions(f))
			if err := p.Release(context.Background(), fixtureEvent(t, tc.fixture), tc.approved, tc.comment); err != nil {
				t.Fatalf("Release: %v", err)
			}
			got := f.recorded()
			if len(got) != 1 {
				t.Fatalf("calls = %+v", got)
			}
			got[0].Token = ""
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Fatalf("call:\n got %+v\nwant %+v", got[0], tc.want)
			}
		})
	}
	p := newProvider(t, Options{})
	if err := p.Release(context.Background(), event.Event{Provider: Name, Kind: event.KindBuild}, true, ""); !errors.Is(err, providers.ErrNoAction) {
		t.Fatalf("Release of an event that holds nothing: %v", err)
	}
}

func TestEnforceErrors(t *testing.T) {
	const cancel = "POST /api/v4/projects/42/pipelines/1031/cancel"
	reset := time.Now().Add(90 * time.Second).Unix()
	tests := []struct {
		name      string
		opts      func(*fakeGitLab) Options
		reply     reply
		permanent bool
		wait      time.Duration // minimum expected RetryDelay
	}{
		{name: "no API token is permanent", opts: func(*fakeGitLab) Options { return Options{} }, permanent: true},
		{name: "403 is permanent", reply: reply{status: 403, body: `{"message":"403 Forbidden"}`}, permanent: true},
		{name: "404 is permanent", reply: reply{status: 404, body: `{"message":"404 Not Found"}`}, permanent: true},
		{name: "500 is retryable", reply: reply{status: 500, body: `{}`}},
		{name: "503 with Retry-After", reply: reply{status: 503, headers: map[string]string{"Retry-After": "7"}}, wait: 7 * time.Second},
		{name: "429 with RateLimit-Reset", reply: reply{status: 429, headers: map[string]string{"RateLimit-Reset": strconv.FormatInt(reset, 10)}}, wait: 60 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitLab(t, map[string]reply{cancel: tc.reply})
			o := apiOptions(f)
			if tc.opts != nil {
				o = tc.opts(f)
			}
			p := newProvider(t, o)
			err := p.Enforce(context.Background(), fixtureEvent(t, "pipeline.pending.bot-variables"), providers.Decision{Effective: "deny"})
			if err == nil {
				t.Fatal("Enforce succeeded")
			}
			var perm *providers.PermanentError
			if errors.As(err, &perm) != tc.permanent {
				t.Fatalf("err = %v (%T), permanent %v", err, err, tc.permanent)
			}
			var rd providers.RetryDelayer
			if tc.wait > 0 {
				if !errors.As(err, &rd) || rd.RetryDelay() < tc.wait {
					t.Fatalf("err = %v, want a wait of at least %s", err, tc.wait)
				}
				if w, ok := RetryAfter(err); !ok || w != rd.RetryDelay() {
					t.Fatalf("RetryAfter = %s, %v", w, ok)
				}
			}
			if strings.Contains(err.Error(), "glpat-test-token") {
				t.Fatal("error reveals the token")
			}
		})
	}
}

func TestEnforceUnknownDecision(t *testing.T) {
	f := newFakeGitLab(t, nil)
	p := newProvider(t, apiOptions(f))
	err := p.Enforce(context.Background(), fixtureEvent(t, "pipeline.pending.bot-variables"), providers.Decision{Effective: "maybe"})
	var perm *providers.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.recorded()); n != 0 {
		t.Fatalf("%d calls", n)
	}
}
