package slack

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

// payload loads testdata/slack/NAME.json, applies edit to it, and returns the
// signed form body Slack would send.
func payload(t *testing.T, name string, edit func(p map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(fixtures.Path("slack", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(p)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return formBody(t, out)
}

// asUser makes a payload come from another Slack user.
func asUser(id string) func(map[string]any) {
	return func(p map[string]any) {
		p["user"] = map[string]any{"id": id, "username": strings.ToLower(id), "name": strings.ToLower(id), "team_id": "T0ACME"}
	}
}

// serve sends r to the notifier's interaction handler and waits for the
// background work it started.
func (e *env) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	e.n.ServeHTTP(w, r)
	e.wait()
	return w
}

// ephemerals returns the texts shown to user.
func (e *env) ephemerals(user string) []string {
	var out []string
	for _, c := range e.slack.called("chat.postEphemeral") {
		if c.Form.Get("user") == user {
			out = append(out, c.Form.Get("text"))
		}
	}
	return out
}

func TestInteractionRefused(t *testing.T) {
	body := payload(t, "block_actions_approve", nil)
	tests := []struct {
		name   string
		secret string
		req    func() *http.Request
		want   int
	}{
		{"forged signature", testSecret, func() *http.Request { return signedRequest("not-the-secret", fixtureTS, body) }, http.StatusUnauthorized},
		{"stale timestamp", testSecret, func() *http.Request { return signedRequest(testSecret, fixtureTS-6*60, body) }, http.StatusUnauthorized},
		{"future timestamp", testSecret, func() *http.Request { return signedRequest(testSecret, fixtureTS+6*60, body) }, http.StatusUnauthorized},
		{"no signing secret configured", "", func() *http.Request { return signedRequest("", fixtureTS, body) }, http.StatusUnauthorized},
		{"missing headers", testSecret, func() *http.Request {
			r := signedRequest(testSecret, fixtureTS, body)
			r.Header.Del(headerSignature)
			return r
		}, http.StatusUnauthorized},
		{"body changed after signing", testSecret, func() *http.Request {
			r := signedRequest(testSecret, fixtureTS, body)
			r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(body, []byte("approve"), []byte("reject_"), 1)))
			return r
		}, http.StatusUnauthorized},
		{"GET", testSecret, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/slack/interactions", nil) }, http.StatusMethodNotAllowed},
		{"body over 1 MiB", testSecret, func() *http.Request {
			return signedRequest(testSecret, fixtureTS, bytes.Repeat([]byte("a"), maxBody+1))
		}, http.StatusRequestEntityTooLarge},
		{"signed but no payload", testSecret, func() *http.Request { return signedRequest(testSecret, fixtureTS, []byte("foo=bar")) }, http.StatusBadRequest},
		{"valid", testSecret, func() *http.Request { return signedRequest(testSecret, fixtureTS, body) }, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.SigningSecret = config.NewSecret(tc.secret, "test") }, testApproval())
			w := e.serve(t, tc.req())
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.want != http.StatusOK && len(e.res.recorded()) != 0 {
				t.Errorf("a refused request reached the resolver: %v", e.res.recorded())
			}
		})
	}
}

func TestApproveClick(t *testing.T) {
	e := newEnv(t, nil, testApproval())
	e.slack.emails[approverID] = "alice@example.com"
	w := e.serve(t, fixtureRequest(t, "block_actions_approve"))
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("response = %d %q, want an empty 200", w.Code, w.Body)
	}
	calls := e.res.recorded()
	want := resolveCall{Who: Clicker{UserID: approverID, UserName: "alice", Email: "alice@example.com"}, ID: approvalID, Approve: true}
	if len(calls) != 1 || !equalCall(calls[0], want) {
		t.Fatalf("Resolve calls = %+v, want [%+v]", calls, want)
	}
	updates := e.slack.called("chat.update")
	if len(updates) != 1 {
		t.Fatalf("chat.update calls = %d, want 1", len(updates))
	}
	if updates[0].Form.Get("channel") != prodChannel || updates[0].Form.Get("ts") != msgTS {
		t.Errorf("updated %s/%s, want the clicked message", updates[0].Form.Get("channel"), updates[0].Form.Get("ts"))
	}
	raw := postedBlocks(t, updates[0])
	if len(buttons(t, raw)) != 0 {
		t.Errorf("buttons left after approval: %s", raw)
	}
	if !strings.Contains(raw, "*Approved* by <@U0APPROVER>") {
		t.Errorf("update does not say who approved: %s", raw)
	}
	if got := e.ephemerals(approverID); len(got) != 0 {
		t.Errorf("ephemeral messages = %q, want none", got)
	}
}

func TestRejectFlow(t *testing.T) {
	e := newEnv(t, nil, testApproval())
	w := e.serve(t, fixtureRequest(t, "block_actions_reject"))
	if w.Code != http.StatusOK {
		t.Fatalf("click status = %d", w.Code)
	}
	if calls := e.res.recorded(); len(calls) != 0 {
		t.Fatalf("Resolve called before the reason was given: %+v", calls)
	}
	opens := e.slack.called("views.open")
	if len(opens) != 1 {
		t.Fatalf("views.open calls = %d, want 1", len(opens))
	}
	if got := opens[0].JSON["trigger_id"]; got != "8207431925843.8191612047712.9a2e0bd2e4a5b6c7d8e9f0a1b2c3d4e5" {
		t.Errorf("trigger_id = %v", got)
	}
	view := opens[0].JSON["view"].(map[string]any)
	var meta rejectMetadata
	if err := json.Unmarshal([]byte(view["private_metadata"].(string)), &meta); err != nil {
		t.Fatal(err)
	}
	if meta != (rejectMetadata{ID: approvalID, Channel: prodChannel, TS: msgTS}) {
		t.Errorf("private_metadata = %+v", meta)
	}
	if view["callback_id"] != rejectCallbackID {
		t.Errorf("callback_id = %v", view["callback_id"])
	}

	w = e.serve(t, fixtureRequest(t, "view_submission_reject"))
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("submission response = %d %q, want an empty 200 (closes the modal)", w.Code, w.Body)
	}
	calls := e.res.recorded()
	reason := "Capture retries must wait for the PAY-1409 idempotency keys; deploy after Thursday's release."
	if len(calls) != 1 || calls[0].Approve || calls[0].Reason != reason || calls[0].Who.UserID != approverID {
		t.Fatalf("Resolve calls = %+v, want one rejection by %s with the typed reason", calls, approverID)
	}
	updates := e.slack.called("chat.update")
	if len(updates) != 1 || updates[0].Form.Get("ts") != msgTS {
		t.Fatalf("chat.update calls = %+v, want one of the original message", updates)
	}
	raw := postedBlocks(t, updates[0])
	if !strings.Contains(raw, ":x: *Rejected* by <@U0APPROVER>") || !strings.Contains(raw, "idempotency keys") || len(buttons(t, raw)) != 0 {
		t.Errorf("rejected message = %s", raw)
	}
}

func TestRejectWithoutModal(t *testing.T) {
	e := newEnv(t, nil, testApproval())
	e.slack.failViews = true
	e.serve(t, fixtureRequest(t, "block_actions_reject"))
	calls := e.res.recorded()
	if len(calls) != 1 || calls[0].Approve || calls[0].Reason != "rejected in Slack by alice (U0APPROVER)" {
		t.Fatalf("Resolve calls = %+v, want a rejection naming the clicker", calls)
	}
	if n := len(e.slack.called("chat.update")); n != 1 {
		t.Errorf("chat.update calls = %d, want 1", n)
	}
}

func TestRejectReasonValidated(t *testing.T) {
	tests := []struct {
		name, reason, want string
	}{
		{"empty", "   ", "A reason is required"},
		{"too long", strings.Repeat("r", maxReason+1), "under 1000 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, testApproval())
			body := payload(t, "view_submission_reject", func(p map[string]any) {
				p["view"].(map[string]any)["state"] = map[string]any{"values": map[string]any{
					reasonBlockID: map[string]any{reasonActionID: map[string]any{"type": "plain_text_input", "value": tc.reason}},
				}}
			})
			w := e.serve(t, signedRequest(testSecret, fixtureTS, body))
			var resp struct {
				ResponseAction string            `json:"response_action"`
				Errors         map[string]string `json:"errors"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("response %q: %v", w.Body, err)
			}
			if resp.ResponseAction != "errors" || !strings.Contains(resp.Errors[reasonBlockID], tc.want) {
				t.Errorf("response = %+v, want errors on %s mentioning %q", resp, reasonBlockID, tc.want)
			}
			if calls := e.res.recorded(); len(calls) != 0 {
				t.Errorf("Resolve called: %+v", calls)
			}
		})
	}
}

func TestClickRefused(t *testing.T) {
	at := time.Unix(fixtureTS, 0).UTC()
	tests := []struct {
		name     string
		approval func(*store.Approval)
		setup    func(*env)
		user     string
		// wantCalls is how many times Resolve is called.
		wantCalls int
		want      string
		// wantUpdate says the message is rewritten (it was resolved).
		wantUpdate bool
	}{
		{
			name:     "double click: already approved",
			approval: func(a *store.Approval) { a.State, a.ResolvedBy, a.ResolvedAt = store.ApprovalApproved, "U0FASTER", &at },
			user:     approverID, want: "already approved by <@U0FASTER> <!date^1767225600^", wantUpdate: true,
		},
		{
			name: "concurrent winner: the resolver answers conflict",
			setup: func(e *env) {
				e.res.beforeResolve = func(f *fakeResolver) {
					a := f.approvals[approvalID]
					a.State, a.ResolvedBy, a.ResolvedAt = store.ApprovalRejected, "U0FASTER", &at
					f.approvals[approvalID] = a
				}
			},
			user: approverID, wantCalls: 1, want: "already rejected by <@U0FASTER>", wantUpdate: true,
		},
		{
			name: "not an approver", user: "U0STRANGER", wantCalls: 1,
			want: "U0STRANGER is not an approver of this change",
		},
		{
			name:     "the prompter cannot approve",
			approval: func(a *store.Approval) { a.Event.Trigger.TriggeredBy = "alice@example.com" },
			setup:    func(e *env) { e.slack.emails[approverID] = "alice@example.com" },
			user:     approverID, wantCalls: 1, want: "prompted this agent's change",
		},
		{
			name:     "unknown approval",
			approval: func(a *store.Approval) { a.ID = "some-other-id" },
			user:     approverID, want: "not found",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := testApproval()
			if tc.approval != nil {
				tc.approval(&a)
			}
			e := newEnv(t, nil, a)
			e.slack.handles["sre-oncall"] = "S0SRE"
			e.slack.groups["S0SRE"] = []string{"U0ONCALL"}
			if tc.setup != nil {
				tc.setup(e)
			}
			w := e.serve(t, signedRequest(testSecret, fixtureTS, payload(t, "block_actions_approve", asUser(tc.user))))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d", w.Code)
			}
			if got := len(e.res.recorded()); got != tc.wantCalls {
				t.Errorf("Resolve calls = %d, want %d", got, tc.wantCalls)
			}
			msgs := e.ephemerals(tc.user)
			if len(msgs) != 1 || !strings.Contains(msgs[0], tc.want) {
				t.Fatalf("ephemeral messages to %s = %q, want one containing %q", tc.user, msgs, tc.want)
			}
			eph := e.slack.called("chat.postEphemeral")
			if eph[0].Form.Get("channel") != prodChannel {
				t.Errorf("ephemeral channel = %q", eph[0].Form.Get("channel"))
			}
			updates := e.slack.called("chat.update")
			if tc.wantUpdate != (len(updates) == 1) {
				t.Errorf("chat.update calls = %d, want update %v", len(updates), tc.wantUpdate)
			}
			if tc.wantUpdate && len(buttons(t, postedBlocks(t, updates[0]))) != 0 {
				t.Errorf("buttons left on a resolved approval")
			}
		})
	}
}

func equalCall(a, b resolveCall) bool {
	return a.ID == b.ID && a.Approve == b.Approve && a.Reason == b.Reason &&
		a.Who.UserID == b.Who.UserID && a.Who.UserName == b.Who.UserName && a.Who.Email == b.Who.Email &&
		slices.Equal(a.Who.Groups, b.Who.Groups)
}

func slackUser(id string) slack.User { return slack.User{ID: id, Name: strings.ToLower(id)} }
