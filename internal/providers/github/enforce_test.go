package github

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	fx "github.com/agentgate/agentgate/internal/testutil/fixtures"
)

const (
	testSHA      = "3484a3fb816e0859fd6e1cea078d76385ff50625"
	cancelPath   = "/repos/acme/api/actions/runs/289782451/cancel"
	checksPath   = "/repos/acme/api/check-runs"
	statusPath   = "/repos/acme/api/statuses/" + testSHA
	callbackPath = "/repos/acme/api/actions/runs/289782451/deployment_protection_rule"
)

// fixtureEvent parses a fixture into its one event, pointing a deployment
// callback at base.
func fixtureEvent(t testing.TB, name, base string) event.Event {
	t.Helper()
	body, err := os.ReadFile(fx.Path("github", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, Options{RunnerRates: testRates()})
	d, err := p.Parse(headers(eventNameOf(name), "d"), body)
	if err != nil || len(d.Events) != 1 {
		t.Fatalf("fixture %s: %v %+v", name, err, d)
	}
	ev := d.Events[0]
	if cb := ev.Handles[handleCallbackURL]; cb != "" {
		ev.Handles[handleCallbackURL] = base + strings.TrimPrefix(cb, "https://api.github.com")
	}
	return ev
}

// anyBody matches any request body.
const anyBody = "*"

// wantCall is an expected request; Body is JSON ("" for none, anyBody for
// any).
type wantCall struct {
	Method, Path, Body string
}

func checkCalls(t *testing.T, got []call, want []wantCall) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d calls, want %d:\n%s", len(got), len(want), describe(got))
	}
	for i, w := range want {
		var body map[string]any
		if w.Body != "" && w.Body != anyBody {
			if err := json.Unmarshal([]byte(w.Body), &body); err != nil {
				t.Fatalf("bad expected body %q: %v", w.Body, err)
			}
		}
		g := got[i]
		if w.Body == anyBody {
			body = g.Body
		}
		if g.Method != w.Method || g.Path != w.Path || !reflect.DeepEqual(g.Body, body) {
			t.Fatalf("call %d = %s %s %v\nwant %s %s %v", i, g.Method, g.Path, jsonOf(g.Body), w.Method, w.Path, w.Body)
		}
	}
}

func describe(calls []call) string {
	var b strings.Builder
	for _, c := range calls {
		b.WriteString(c.Method + " " + c.Path + " " + jsonOf(c.Body) + "\n")
	}
	return b.String()
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEnforce(t *testing.T) {
	deny := providers.Decision{DecisionID: "dec-1", Outcome: "deny", Effective: "deny", AgentName: "coder-bot",
		Reasons: []string{"build_quota: builds_per_hour exhausted (20/20)"}}
	denyUnregistered := providers.Decision{DecisionID: "dec-2", Outcome: "deny", Effective: "deny",
		Reasons: []string{"unregistered_agent: github:coder-bot[bot] is not registered"}}
	allowAgent := providers.Decision{DecisionID: "dec-3", Outcome: "allow", Effective: "allow", AgentName: "coder-bot"}
	allowHuman := providers.Decision{DecisionID: "dec-4", Outcome: "allow", Effective: "allow"}
	warned := providers.Decision{DecisionID: "dec-5", Outcome: "allow", Effective: "allow", AgentName: "coder-bot",
		Warnings: []string{"tier: coder-bot is new"}}
	dryrun := providers.Decision{DecisionID: "dec-6", Outcome: "deny", Effective: "allow", AgentName: "coder-bot",
		Reasons: []string{"branch: agents may not build main"}}
	held := providers.Decision{DecisionID: "dec-7", Outcome: "approval_required", Effective: "approval_required",
		AgentName: "coder-bot", ApprovalID: "apr-1", Reasons: []string{"production: needs a human"}}

	denyCheck := wantCall{"POST", checksPath, `{"name":"agentgate","head_sha":"` + testSHA + `","conclusion":"failure","external_id":"dec-1",
		"output":{"title":"Refused by agentgate","summary":"agentgate refused this workflow run and cancelled it.\n\n- Agent: ` + "`coder-bot`" + `\n- Principal: ` + "`github:coder-bot[bot]`" + `\n- Decision: ` + "`dec-1`" + `\n\n**Reasons**\n\n- build_quota: builds_per_hour exhausted (20/20)\n"}}`}
	cancel := wantCall{"POST", cancelPath, ""}
	forbidden := reply{status: http.StatusForbidden, body: `{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/checks/runs#create-a-check-run"}`}

	tests := []struct {
		name    string
		fixture string
		d       providers.Decision
		replies map[string]reply
		want    []wantCall
		wantErr string
	}{
		{name: "refused agent run is cancelled and gets a failed check run", fixture: "workflow_run.requested.bot-trailers", d: deny,
			replies: map[string]reply{"POST " + cancelPath: {status: http.StatusAccepted, body: "{}"}},
			want:    []wantCall{cancel, denyCheck}},
		{name: "refused unregistered agent is cancelled too", fixture: "workflow_run.requested.bot-trailers", d: denyUnregistered,
			want: []wantCall{cancel, {"POST", checksPath, `{"name":"agentgate","head_sha":"` + testSHA + `","conclusion":"failure","external_id":"dec-2",
				"output":{"title":"Refused by agentgate","summary":"agentgate refused this workflow run and cancelled it.\n\n- Principal: ` + "`github:coder-bot[bot]`" + `\n- Decision: ` + "`dec-2`" + `\n\n**Reasons**\n\n- unregistered_agent: github:coder-bot[bot] is not registered\n"}}`}}},
		{name: "a run that already finished (409) still gets its check run", fixture: "workflow_run.requested.bot-trailers", d: deny,
			replies: map[string]reply{"POST " + cancelPath: {status: http.StatusConflict, body: `{"message":"Cannot cancel a workflow run that is completed."}`}},
			want:    []wantCall{cancel, denyCheck}},
		{name: "without checks:write a commit status is set", fixture: "workflow_run.requested.bot-trailers", d: deny,
			replies: map[string]reply{"POST " + checksPath: forbidden},
			want: []wantCall{cancel, denyCheck, {"POST", statusPath,
				`{"state":"failure","context":"agentgate","description":"Refused by agentgate: build_quota: builds_per_hour exhausted (20/20)","target_url":"https://github.com/acme/api/actions/runs/289782451"}`}}},
		{name: "a rate-limited check run is retried, not replaced", fixture: "workflow_run.requested.bot-trailers", d: deny,
			replies: map[string]reply{"POST " + checksPath: {status: http.StatusForbidden, headers: map[string]string{"Retry-After": "30"},
				body: `{"message":"You have exceeded a secondary rate limit."}`}},
			want: []wantCall{cancel, denyCheck}, wantErr: "retry 30s"},
		{name: "a run held for approval is cancelled with an action_required check run", fixture: "workflow_run.requested.bot-trailers", d: held,
			want: []wantCall{cancel, {"POST", checksPath, `{"name":"agentgate","head_sha":"` + testSHA + `","conclusion":"action_required","external_id":"dec-7",
				"output":{"title":"Held for approval by agentgate","summary":"agentgate holds this workflow run for a human's approval (approval ` + "`apr-1`" + `). GitHub cannot pause a run, so it was cancelled; re-run it once approved.\n\n- Agent: ` + "`coder-bot`" + `\n- Principal: ` + "`github:coder-bot[bot]`" + `\n- Decision: ` + "`dec-7`" + `\n\n**Reasons**\n\n- production: needs a human\n"}}`}}},
		{name: "a human's allowed run causes no call", fixture: "workflow_run.requested.human", d: allowHuman},
		{name: "an agent's allowed run causes no call", fixture: "workflow_run.requested.bot-trailers", d: allowAgent},
		{name: "an agent's run allowed with warnings gets a neutral check run", fixture: "workflow_run.requested.bot-trailers", d: warned,
			want: []wantCall{{"POST", checksPath, `{"name":"agentgate","head_sha":"` + testSHA + `","conclusion":"neutral","external_id":"dec-5",
				"output":{"title":"Allowed by agentgate with warnings","summary":"agentgate allowed this workflow run with warnings.\n\n- Agent: ` + "`coder-bot`" + `\n- Principal: ` + "`github:coder-bot[bot]`" + `\n- Decision: ` + "`dec-5`" + `\n\n**Warnings**\n\n- tier: coder-bot is new\n"}}`}}},
		{name: "a neutral notice without checks:write is skipped", fixture: "workflow_run.requested.bot-trailers", d: warned,
			replies: map[string]reply{"POST " + checksPath: forbidden},
			want:    []wantCall{{"POST", checksPath, anyBody}}},
		{name: "a run let through by dry-run mode gets a neutral check run", fixture: "workflow_run.requested.bot-trailers", d: dryrun,
			want: []wantCall{{"POST", checksPath, `{"name":"agentgate","head_sha":"` + testSHA + `","conclusion":"neutral","external_id":"dec-6",
				"output":{"title":"Allowed by agentgate with warnings","summary":"agentgate allowed this workflow run, but its policy decided \"deny\": the rules are in warn or dry-run mode.\n\n- Agent: ` + "`coder-bot`" + `\n- Principal: ` + "`github:coder-bot[bot]`" + `\n- Decision: ` + "`dec-6`" + `\n\n**Reasons and warnings**\n\n- branch: agents may not build main\n"}}`}}},
		{name: "an allowed deployment is approved", fixture: "deployment_protection_rule.requested", d: allowAgent,
			replies: map[string]reply{"POST " + callbackPath: {status: http.StatusNoContent}},
			want: []wantCall{{"POST", callbackPath,
				`{"environment_name":"production","state":"approved","comment":"Approved by agentgate: agent coder-bot, decision dec-3"}`}}},
		{name: "a human's deployment is approved too (the rule blocks until answered)", fixture: "deployment_protection_rule.requested", d: allowHuman,
			want: []wantCall{{"POST", callbackPath, `{"environment_name":"production","state":"approved","comment":"Approved by agentgate: decision dec-4"}`}}},
		{name: "a refused deployment is rejected with the reasons", fixture: "deployment_protection_rule.requested", d: deny,
			want: []wantCall{{"POST", callbackPath,
				`{"environment_name":"production","state":"rejected","comment":"Rejected by agentgate (decision dec-1): build_quota: builds_per_hour exhausted (20/20)"}`}}},
		{name: "a held deployment waits", fixture: "deployment_protection_rule.requested", d: held},
		{name: "reports are never enforced", fixture: "workflow_job.completed.labels", d: deny},
		{name: "deployment records are not enforced", fixture: "deployment.created.app", d: deny},
		{name: "finished runs are not enforced", fixture: "workflow_run.completed.fork", d: deny},
		{name: "an unknown decision is a permanent error", fixture: "workflow_run.requested.bot-trailers",
			d: providers.Decision{Effective: "maybe"}, wantErr: `unknown effective decision "maybe"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t, tc.replies)
			p := newProvider(t, tokenOptions(f))
			err := p.Enforce(context.Background(), fixtureEvent(t, tc.fixture, f.URL), tc.d)
			if tc.wantErr == "" && err != nil && !errors.Is(err, providers.ErrNoAction) {
				t.Fatalf("Enforce: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(describeErr(err), tc.wantErr)) {
				t.Fatalf("err = %v, want it to mention %q", describeErr(err), tc.wantErr)
			}
			got := f.recorded(false)
			checkCalls(t, got, tc.want)
			for _, c := range got {
				if c.Auth != "Bearer ghp_test_token" {
					t.Fatalf("Authorization = %q", c.Auth)
				}
			}
		})
	}
}

// describeErr renders err with its retry wait, for matching.
func describeErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if wait, ok := RetryAfter(err); ok {
		s += " (retry " + wait.String() + ")"
	}
	var pe *providers.PermanentError
	if errors.As(err, &pe) {
		s += " (permanent)"
	}
	return s
}

func TestEnforceRefusesForeignCallback(t *testing.T) {
	f := newFakeGitHub(t, nil)
	p := newProvider(t, tokenOptions(f))
	ev := fixtureEvent(t, "deployment_protection_rule.requested", f.URL)
	ev.Handles[handleCallbackURL] = "https://attacker.example" + callbackPath
	err := p.Enforce(context.Background(), ev, providers.Decision{Effective: "allow"})
	var pe *providers.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "refusing to send credentials") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.recorded(true)); n != 0 {
		t.Fatalf("%d calls made", n)
	}
}

func TestRelease(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string
		approved bool
		comment  string
		want     []wantCall
	}{
		{name: "approved deployment", fixture: "deployment_protection_rule.requested", approved: true, comment: "approved by alice: ship it",
			want: []wantCall{{"POST", callbackPath, `{"environment_name":"production","state":"approved","comment":"approved by alice: ship it"}`}}},
		{name: "rejected deployment with no comment", fixture: "deployment_protection_rule.requested",
			want: []wantCall{{"POST", callbackPath, `{"environment_name":"production","state":"rejected","comment":"Rejected in agentgate"}`}}},
		{name: "approved held run", fixture: "workflow_run.requested.bot-trailers", approved: true, comment: "bob: fine",
			want: []wantCall{{"POST", checksPath, `{"name":"agentgate","head_sha":"` + testSHA + `","conclusion":"success",
				"output":{"title":"Approved in agentgate","summary":"This agent's workflow run was approved in agentgate; re-run it to proceed.\n\n> bob: fine\n"}}`}}},
		{name: "expired held run", fixture: "workflow_run.requested.bot-trailers", comment: "expired",
			want: []wantCall{{"POST", checksPath, `{"name":"agentgate","head_sha":"` + testSHA + `","conclusion":"failure",
				"output":{"title":"Rejected in agentgate","summary":"This agent's workflow run was refused in agentgate.\n\n> expired\n"}}`}}},
		{name: "nothing held", fixture: "deployment_status.success", approved: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t, nil)
			p := newProvider(t, tokenOptions(f))
			if err := p.Release(context.Background(), fixtureEvent(t, tc.fixture, f.URL), tc.approved, tc.comment); err != nil && !errors.Is(err, providers.ErrNoAction) {
				t.Fatalf("Release: %v", err)
			}
			checkCalls(t, f.recorded(false), tc.want)
		})
	}
}
