package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/store"
)

// postedBlocks returns the blocks JSON of a chat.postMessage or
// chat.update call, wrapped as {"blocks": …}.
func postedBlocks(t *testing.T, c apiCall) string {
	t.Helper()
	var blocks []any
	if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &blocks); err != nil {
		t.Fatalf("%s blocks: %v", c.Method, err)
	}
	return marshal(t, map[string]any{"blocks": blocks}, "")
}

func TestApprovalCreatedRouting(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{"exact environment", "production", prodChannel},
		{"glob", "prod-us", "C0PRODSTAR"},
		{"longest glob wins", "prod-eu-west", "C0PRODEU"},
		{"default channel", "staging", "C0DEFAULT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := testApproval()
			a.Environment = tc.env
			e := newEnv(t, nil, a)
			e.n.ApprovalCreated(context.Background(), a)
			e.wait()
			posts := e.slack.called("chat.postMessage")
			if len(posts) != 1 {
				t.Fatalf("chat.postMessage calls = %d, want 1", len(posts))
			}
			if got := posts[0].Form.Get("channel"); got != tc.want {
				t.Errorf("channel = %q, want %q", got, tc.want)
			}
			if !strings.Contains(posts[0].Form.Get("text"), "Approval needed") {
				t.Errorf("fallback text = %q", posts[0].Form.Get("text"))
			}
			b := buttons(t, postedBlocks(t, posts[0]))
			if b[actionApprove]["value"] != a.ID || b[actionReject]["value"] != a.ID {
				t.Errorf("buttons = %v, want both carrying %s", b, a.ID)
			}
			ch, ts, err := e.refs.Get(context.Background(), a.ID)
			if err != nil || ch != tc.want || ts == "" {
				t.Errorf("remembered %q %q %v, want channel %q and a ts", ch, ts, err, tc.want)
			}
			if n := len(e.slack.called("chat.update")); n != 0 {
				t.Errorf("chat.update calls = %d, want 0 for a pending approval", n)
			}
		})
	}
}

func TestApprovalCreatedDMOwner(t *testing.T) {
	tests := []struct {
		name    string
		owner   string
		dm      bool
		wantDMs int
	}{
		{"owner is a Slack user", "U0OWNER", true, 1},
		{"owner is a team name", "platform-team", true, 0},
		{"DMs off", "U0OWNER", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := testApproval()
			a.Owner = tc.owner
			e := newEnv(t, func(o *Options) { o.DMOwner = tc.dm }, a)
			e.n.ApprovalCreated(context.Background(), a)
			e.wait()
			opens := e.slack.called("conversations.open")
			if len(opens) != tc.wantDMs {
				t.Fatalf("conversations.open calls = %d, want %d", len(opens), tc.wantDMs)
			}
			posts := e.slack.called("chat.postMessage")
			if len(posts) != 1+tc.wantDMs {
				t.Fatalf("chat.postMessage calls = %d, want %d", len(posts), 1+tc.wantDMs)
			}
			if tc.wantDMs == 0 {
				return
			}
			if got := opens[0].Form.Get("users"); got != tc.owner {
				t.Errorf("conversations.open users = %q, want %q", got, tc.owner)
			}
			dm := posts[1]
			if dm.Form.Get("channel") != "D0OWNER" {
				t.Errorf("DM channel = %q", dm.Form.Get("channel"))
			}
			raw := postedBlocks(t, dm)
			if len(buttons(t, raw)) != 0 {
				t.Errorf("the owner's DM has buttons: %s", raw)
			}
			if !strings.Contains(raw, "<#"+prodChannel+">") {
				t.Errorf("the owner's DM does not point to the channel: %s", raw)
			}
		})
	}
}

func TestApprovalResolvedUpdatesMessage(t *testing.T) {
	at := time.Unix(fixtureTS, 0).UTC()
	tests := []struct {
		name   string
		state  store.ApprovalState
		by     string
		note   string
		posted bool
		want   []string
	}{
		{"expired", store.ApprovalExpired, "agentgate", "approval expired: nobody approved within 4h0m0s", true,
			[]string{"Expired: payments-deployer", ":hourglass: *Expired* by agentgate", "nobody approved within 4h0m0s"}},
		{"approved through the API", store.ApprovalApproved, "release-manager", "", true,
			[]string{"Approved: payments-deployer", "by release-manager"}},
		{"cancelled by a kill switch", store.ApprovalCancelled, "agentgate", "kill switch engaged", true,
			[]string{"Cancelled: payments-deployer", "kill switch engaged"}},
		{"no message was posted", store.ApprovalExpired, "agentgate", "", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := testApproval()
			e := newEnv(t, nil, a)
			if tc.posted {
				e.n.ApprovalCreated(context.Background(), a)
				e.wait()
			}
			a.State, a.ResolvedBy, a.ResolvedAt, a.ResolvedNote = tc.state, tc.by, &at, tc.note
			e.n.ApprovalResolved(context.Background(), a)
			e.wait()
			updates := e.slack.called("chat.update")
			if !tc.posted {
				if len(updates) != 0 {
					t.Fatalf("chat.update calls = %d, want 0", len(updates))
				}
				return
			}
			if len(updates) != 1 {
				t.Fatalf("chat.update calls = %d, want 1", len(updates))
			}
			ch, ts, _ := e.refs.Get(context.Background(), a.ID)
			if updates[0].Form.Get("channel") != ch || updates[0].Form.Get("ts") != ts {
				t.Errorf("updated %s/%s, want the posted %s/%s", updates[0].Form.Get("channel"), updates[0].Form.Get("ts"), ch, ts)
			}
			raw := postedBlocks(t, updates[0])
			if len(buttons(t, raw)) != 0 {
				t.Errorf("the resolved message still has buttons: %s", raw)
			}
			for _, s := range tc.want {
				if !strings.Contains(raw, s) {
					t.Errorf("update lacks %q: %s", s, raw)
				}
			}
		})
	}
}

// An approval resolved while its message was being posted has its
// message updated right after the post.
func TestApprovalCreatedAfterResolution(t *testing.T) {
	a := testApproval()
	resolved := a
	at := time.Unix(fixtureTS, 0).UTC()
	resolved.State, resolved.ResolvedBy, resolved.ResolvedAt = store.ApprovalApproved, "release-manager", &at
	e := newEnv(t, nil, resolved)
	e.n.ApprovalCreated(context.Background(), a)
	e.wait()
	if n := len(e.slack.called("chat.postMessage")); n != 1 {
		t.Fatalf("chat.postMessage calls = %d, want 1", n)
	}
	updates := e.slack.called("chat.update")
	if len(updates) != 1 || len(buttons(t, postedBlocks(t, updates[0]))) != 0 {
		t.Fatalf("want one chat.update without buttons, got %d", len(updates))
	}
}

func TestNewValidates(t *testing.T) {
	ok := func() Options {
		return Options{
			BotToken: config.NewSecret("xoxb-1", "test"), Channel: "C1",
			Resolver: newFakeResolver(time.Now), Refs: newMemRefs(),
		}
	}
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{"valid", func(*Options) {}, ""},
		{"no token", func(o *Options) { o.BotToken = config.Secret{} }, "bot_token"},
		{"no channel", func(o *Options) { o.Channel = "" }, "channel"},
		{"channels only", func(o *Options) { o.Channel = ""; o.Channels = map[string]string{"prod*": "C2"} }, ""},
		{"bad glob", func(o *Options) { o.Channels = map[string]string{"prod[": "C2"} }, "glob"},
		{"no resolver", func(o *Options) { o.Resolver = nil }, "Resolver"},
		{"no refs", func(o *Options) { o.Refs = nil }, "MessageRefs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok()
			tc.mutate(&o)
			_, err := New(o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}
