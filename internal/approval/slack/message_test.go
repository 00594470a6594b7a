package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/store"
)

// blocksJSON renders blocks as Slack receives them.
func blocksJSON(t *testing.T, blocks []slack.Block) string {
	t.Helper()
	return marshal(t, map[string]any{"blocks": blocks}, "  ")
}

// marshal encodes v as JSON without HTML escaping (Slack's mrkdwn uses
// < and >), indented when indent is not empty.
func marshal(t *testing.T, v any, indent string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// buttons returns the buttons of a Block Kit JSON message by action id.
func buttons(t *testing.T, raw string) map[string]map[string]any {
	t.Helper()
	var msg struct {
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(raw), &msg); err != nil {
		t.Fatalf("unmarshal blocks: %v", err)
	}
	out := map[string]map[string]any{}
	for _, b := range msg.Blocks {
		if b["type"] != "actions" {
			continue
		}
		for _, e := range b["elements"].([]any) {
			el := e.(map[string]any)
			out[el["action_id"].(string)] = el
		}
	}
	return out
}

func TestMessageGolden(t *testing.T) {
	e := newEnv(t, nil)
	got := blocksJSON(t, e.n.message(context.Background(), testApproval()).blocks(true)) + "\n"
	golden := filepath.Join("testdata", "message.golden.json")
	if os.Getenv(updateEnv) != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("message differs from %s (run with %s=1 and review):\n%s", golden, updateEnv, got)
	}
}

func TestMessageContent(t *testing.T) {
	resolvedAt := time.Unix(fixtureTS, 0).UTC()
	tests := []struct {
		name     string
		mutate   func(*store.Approval)
		actions  bool
		contains []string
		absent   []string
		buttons  bool
	}{
		{
			name:    "pending shows the change and both buttons",
			actions: true, buttons: true,
			contains: []string{
				"Approval needed: payments-deployer → production",
				"payments-deployer (`deployment`, tier `established`)", "platform-team",
				"acme/payments-api", "*Environment*\\nproduction",
				"`refs/heads/main` @ <https://github.com/acme/payments-api/commit/9fceb02d0ae598e95dc970b74767f19372d61af8|`9fceb02`>",
				"Roll out the retry fix", "Staging has run the fix", "dana@example.com",
				"production deploys by agents of tier established", "<!date^1767239400^",
				"U0APPROVER, @sre-oncall, role:admin",
			},
		},
		{
			name: "untrusted text cannot mention or link",
			mutate: func(a *store.Approval) {
				a.Event.Trigger.Prompt = "deploy now <!channel> <https://evil.example|click> & more"
			},
			actions: true, buttons: true,
			contains: []string{"&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; more"},
			absent:   []string{"<!channel>", "<https://evil.example"},
		},
		{
			name: "long prompt is cut",
			mutate: func(a *store.Approval) {
				a.Event.Trigger.Prompt = strings.Repeat("x", 5000)
			},
			actions: true, buttons: true,
			contains: []string{strings.Repeat("x", promptLimit-1) + "…"},
			absent:   []string{strings.Repeat("x", promptLimit)},
		},
		{
			name: "approved shows who and when, no buttons",
			mutate: func(a *store.Approval) {
				a.State, a.ResolvedBy, a.ResolvedAt = store.ApprovalApproved, approverID, &resolvedAt
			},
			actions:  true,
			contains: []string{"Approved: payments-deployer → production", ":white_check_mark: *Approved* by <@U0APPROVER> <!date^1767225600^"},
		},
		{
			name: "rejected by an API token shows the note",
			mutate: func(a *store.Approval) {
				a.State, a.ResolvedBy, a.ResolvedAt, a.ResolvedNote = store.ApprovalRejected, "ci-admin", &resolvedAt, "freeze week"
			},
			actions:  true,
			contains: []string{":x: *Rejected* by ci-admin", "> freeze week"},
		},
		{
			name:    "without actions for the owner's DM",
			actions: false,
		},
		{
			name:     "unknown agent shows its id",
			mutate:   func(a *store.Approval) { a.AgentID = "agt_unknown" },
			actions:  true,
			buttons:  true,
			contains: []string{"Approval needed: agt_unknown → production"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			a := testApproval()
			if tc.mutate != nil {
				tc.mutate(&a)
			}
			m := e.n.message(context.Background(), a)
			raw := blocksJSON(t, m.blocks(tc.actions))
			for _, s := range tc.contains {
				if !strings.Contains(raw, s) {
					t.Errorf("message lacks %q:\n%s", s, raw)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(raw, s) {
					t.Errorf("message contains %q", s)
				}
			}
			b := buttons(t, raw)
			if !tc.buttons {
				if len(b) != 0 {
					t.Fatalf("buttons = %v, want none", b)
				}
				return
			}
			for action, style := range map[string]string{actionApprove: "primary", actionReject: "danger"} {
				btn, ok := b[action]
				if !ok {
					t.Fatalf("no %s button", action)
				}
				if btn["value"] != a.ID || btn["style"] != style || btn["type"] != "button" {
					t.Errorf("%s button = %v, want value %s style %s", action, btn, a.ID, style)
				}
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"plain", "hello", 10, "hello"},
		{"controls", "<@U1> & >", 100, "&lt;@U1&gt; &amp; &gt;"},
		{"cut", "abcdefghij", 5, "abcd…"},
		{"never inside an escape", "abc<def", 6, "abc…"},
		{"exact fit after escaping", "a<", 5, "a&lt;"},
		{"runes", "ééééé", 3, "éé…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := escape(tc.in, tc.limit); got != tc.want {
				t.Errorf("escape(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
}

// The integration guide shows the golden message verbatim.
func TestDocsShowGoldenMessage(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "integrations", "slack.md"))
	if err != nil {
		t.Skipf("no integration guide: %v", err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "message.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte("```json\n"+string(golden)+"```\n")) {
		t.Errorf("docs/integrations/slack.md does not show testdata/message.golden.json verbatim; copy it into the guide")
	}
}
