package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/store"
)

const (
	// testSecret is the example signing secret of Slack's documentation.
	testSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	// fixtureTS is the X-Slack-Request-Timestamp of the fixtures.
	fixtureTS   = 1767225600
	approvalID  = "0b9d7c1e-5f3a-4c2b-9e8d-7a6f5e4d3c2b"
	approverID  = "U0APPROVER"
	prodChannel = "C0PROD"
	msgTS       = "1767225000.000100"
)

// memRefs is an in-memory MessageRefs.
type memRefs struct {
	mu   sync.Mutex
	refs map[string][2]string
}

func newMemRefs() *memRefs { return &memRefs{refs: map[string][2]string{}} }

func (m *memRefs) Put(_ context.Context, id, channel, ts string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refs[id] = [2]string{channel, ts}
	return nil
}

func (m *memRefs) Get(_ context.Context, id string) (string, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.refs[id]
	if !ok {
		return "", "", apperr.NotFound("no message for approval %s", id)
	}
	return r[0], r[1], nil
}

// resolveCall is one call of fakeResolver.Resolve.
type resolveCall struct {
	Who     Clicker
	ID      string
	Approve bool
	Reason  string
}

// fakeResolver keeps approvals in memory, applies the approver rules the
// report proposes for approval.Service (a Slack user id entry or one of
// the clicker's groups admits; the prompter never), and records calls.
type fakeResolver struct {
	mu        sync.Mutex
	approvals map[string]store.Approval
	calls     []resolveCall
	now       func() time.Time
	// beforeResolve runs at the start of Resolve (to simulate a
	// concurrent winner).
	beforeResolve func(f *fakeResolver)
}

func newFakeResolver(now func() time.Time, list ...store.Approval) *fakeResolver {
	f := &fakeResolver{approvals: map[string]store.Approval{}, now: now}
	for _, a := range list {
		f.approvals[a.ID] = a
	}
	return f
}

func (f *fakeResolver) Get(_ context.Context, id string) (store.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.approvals[id]
	if !ok {
		return store.Approval{}, apperr.NotFound("approval %q not found", id)
	}
	return a, nil
}

func (f *fakeResolver) Resolve(_ context.Context, who Clicker, id string, approve bool, reason string) (store.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, resolveCall{Who: who, ID: id, Approve: approve, Reason: reason})
	if f.beforeResolve != nil {
		f.beforeResolve(f)
	}
	a, ok := f.approvals[id]
	if !ok {
		return store.Approval{}, apperr.NotFound("approval %q not found", id)
	}
	if a.State != store.ApprovalPending {
		return store.Approval{}, apperr.Conflict("approval %s is already %s by %s", id, a.State, a.ResolvedBy)
	}
	if t := a.Event.Trigger.TriggeredBy; t != "" && (strings.EqualFold(t, who.UserID) || strings.EqualFold(t, who.Email)) {
		return store.Approval{}, apperr.Forbidden("%s prompted this agent's change and cannot approve or reject it", who.UserID)
	}
	admitted := false
	for _, e := range a.Approvers {
		if strings.EqualFold(strings.TrimPrefix(e, "user:"), who.UserID) || slices.Contains(who.Groups, e) {
			admitted = true
		}
	}
	if !admitted {
		return store.Approval{}, apperr.Forbidden("%s is not an approver of this change (approvers: %s)", who.UserID, strings.Join(a.Approvers, ", "))
	}
	at := f.now().UTC()
	a.State, a.ResolvedBy, a.ResolvedAt, a.ResolvedNote = store.ApprovalRejected, who.UserID, &at, reason
	if approve {
		a.State = store.ApprovalApproved
	}
	f.approvals[id] = a
	return a, nil
}

func (f *fakeResolver) recorded() []resolveCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// apiCall is one request the fake Slack API received.
type apiCall struct {
	Method string
	Form   url.Values
	JSON   map[string]any
}

// fakeSlack is slacktest's server with handlers for every method the
// notifier calls, recording the calls.
type fakeSlack struct {
	srv *slacktest.Server

	mu     sync.Mutex
	calls  []apiCall
	seq    int
	groups map[string][]string // group id → members
	// handles maps user group handles to ids (usergroups.list).
	handles map[string]string
	emails  map[string]string // user id → e-mail
	// failViews makes views.open fail.
	failViews bool
}

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{groups: map[string][]string{}, handles: map[string]string{}, emails: map[string]string{}}
	methods := map[string]func(apiCall) any{
		"chat.postMessage": func(c apiCall) any {
			f.seq++
			return map[string]any{"ok": true, "channel": c.Form.Get("channel"), "ts": fmt.Sprintf("1767225000.%06d", f.seq)}
		},
		"chat.update": func(c apiCall) any {
			return map[string]any{"ok": true, "channel": c.Form.Get("channel"), "ts": c.Form.Get("ts"), "text": c.Form.Get("text")}
		},
		"chat.postEphemeral": func(apiCall) any {
			return map[string]any{"ok": true, "message_ts": "1767225600.000200"}
		},
		"views.open": func(c apiCall) any {
			if f.failViews {
				return map[string]any{"ok": false, "error": "expired_trigger_id"}
			}
			return map[string]any{"ok": true, "view": map[string]any{"id": "V0REJECT"}}
		},
		"usergroups.users.list": func(c apiCall) any {
			members, ok := f.groups[c.Form.Get("usergroup")]
			if !ok {
				return map[string]any{"ok": false, "error": "no_such_subteam"}
			}
			return map[string]any{"ok": true, "users": members}
		},
		"usergroups.list": func(apiCall) any {
			var list []map[string]any
			for h, id := range f.handles {
				list = append(list, map[string]any{"id": id, "handle": h, "is_usergroup": true})
			}
			return map[string]any{"ok": true, "usergroups": list}
		},
		"conversations.open": func(c apiCall) any {
			return map[string]any{"ok": true, "channel": map[string]any{"id": "D" + strings.TrimPrefix(c.Form.Get("users"), "U")}}
		},
		"users.info": func(c apiCall) any {
			id := c.Form.Get("user")
			return map[string]any{"ok": true, "user": map[string]any{
				"id": id, "name": strings.ToLower(id), "profile": map[string]any{"email": f.emails[id]},
			}}
		},
	}
	var binders []slacktest.Binder
	for method, answer := range methods {
		binders = append(binders, func(c slacktest.Customize) {
			c.Handle("/"+method, func(w http.ResponseWriter, r *http.Request) {
				call := apiCall{Method: method}
				body, _ := io.ReadAll(r.Body)
				if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					_ = json.Unmarshal(body, &call.JSON)
				} else {
					call.Form, _ = url.ParseQuery(string(body))
					for k, v := range r.URL.Query() {
						call.Form[k] = v
					}
				}
				f.mu.Lock()
				f.calls = append(f.calls, call)
				resp := answer(call)
				f.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(resp)
			})
		})
	}
	f.srv = slacktest.NewTestServer(binders...)
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

// called returns the recorded calls of one method.
func (f *fakeSlack) called(method string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a notifier wired to fakes.
type env struct {
	n     *Notifier
	slack *fakeSlack
	res   *fakeResolver
	refs  *memRefs
	clock *testClock
}

// testApproval is a pending approval like the gate creates.
func testApproval() store.Approval {
	created := time.Unix(fixtureTS, 0).Add(-10 * time.Minute).UTC()
	return store.Approval{
		ID: approvalID, State: store.ApprovalPending, AgentID: "agt_7f3c", Owner: "platform-team",
		Provider: "github", Repo: "acme/payments-api", SHA: "9fceb02d0ae598e95dc970b74767f19372d61af8",
		Environment: "production",
		Reason:      "production deploys by agents of tier established need a person's approval",
		Approvers:   []string{approverID, "@sre-oncall", "role:admin"},
		Event: event.Event{
			Provider: "github", Kind: event.KindDeploy, Repo: "acme/payments-api", Ref: "refs/heads/main",
			SHA: "9fceb02d0ae598e95dc970b74767f19372d61af8", Environment: "production",
			Principal: "github:payments-deployer[bot]",
			Trigger: event.Trigger{
				Prompt:      "Roll out the retry fix for failed card captures (PAY-1412) to production.",
				Reasoning:   "Staging has run the fix for 24h with no capture failures; the change is one config flag and a retry loop.",
				Source:      "commit-trailer",
				TriggeredBy: "dana@example.com",
			},
		},
		DecisionSeq: 4211, CreatedAt: created, ExpiresAt: created.Add(4 * time.Hour),
	}
}

func testAgent() agents.Agent {
	return agents.Agent{ID: "agt_7f3c", Name: "payments-deployer", Type: agents.TypeDeployment, Tier: agents.TierEstablished, Owner: "platform-team"}
}

// newEnv returns a notifier posting to a fake Slack, with mutate applied
// to its options.
func newEnv(t *testing.T, mutate func(*Options), approvals ...store.Approval) *env {
	t.Helper()
	clock := &testClock{t: time.Unix(fixtureTS, 0).Add(30 * time.Second)}
	e := &env{slack: newFakeSlack(t), res: newFakeResolver(clock.Now, approvals...), refs: newMemRefs(), clock: clock}
	o := Options{
		BotToken:      config.NewSecret("xoxb-test", "test"),
		SigningSecret: config.NewSecret(testSecret, "test"),
		Channel:       "C0DEFAULT",
		Channels:      map[string]string{"production": prodChannel, "prod-*": "C0PRODSTAR", "prod-eu-*": "C0PRODEU"},
		APIURL:        e.slack.srv.GetAPIURL(),
		Resolver:      e.res,
		Refs:          e.refs,
		AgentLookup: func(_ context.Context, id string) (agents.Agent, error) {
			if id == testAgent().ID {
				return testAgent(), nil
			}
			return agents.Agent{}, apperr.NotFound("agent %q not found", id)
		},
		CompareURL: func(a store.Approval) string {
			return "https://github.com/" + a.Repo + "/commit/" + a.SHA
		},
		Now: clock.Now,
	}
	if mutate != nil {
		mutate(&o)
	}
	n, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.n = n
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return e
}

// wait waits for the notifier's background work.
func (e *env) wait() { e.n.wg.Wait() }
