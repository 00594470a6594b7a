package trailers

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/event"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    map[string]string
	}{
		{name: "no body", message: "Fix the login test", want: nil},
		{name: "subject only looks like a trailer", message: "Agent-Id: coder-bot", want: nil},
		{name: "last paragraph of trailers", message: "Fix\n\nBody text.\n\nAgent-Id: coder-bot\nAgent-Prompt: fix it",
			want: map[string]string{"agent-id": "coder-bot", "agent-prompt": "fix it"}},
		{name: "keys are case-insensitive", message: "Fix\n\nAGENT-ID: coder-bot\nagent-reasoning: because",
			want: map[string]string{"agent-id": "coder-bot", "agent-reasoning": "because"}},
		{name: "whitespace before the colon", message: "Fix\n\nAgent-Id \t: coder-bot",
			want: map[string]string{"agent-id": "coder-bot"}},
		{name: "continuation lines are unfolded", message: "Fix\n\nAgent-Prompt: fix the\n  flaky test\n\tplease\nAgent-Id: x",
			want: map[string]string{"agent-prompt": "fix the flaky test please", "agent-id": "x"}},
		{name: "trailers not in the last paragraph", message: "Fix\n\nAgent-Id: coder-bot\n\nThanks!", want: nil},
		{name: "a prose line voids the block", message: "Fix\n\nAgent-Id: coder-bot\nsee the issue", want: nil},
		{name: "git-generated trailer allows a prose line", message: "Fix\n\nAgent-Id: coder-bot\nsee the issue\nSigned-off-by: A <a@b>",
			want: map[string]string{"agent-id": "coder-bot", "signed-off-by": "A <a@b>"}},
		{name: "cherry-pick line counts as git-generated", message: "Fix\n\n(cherry picked from commit abc)\nAgent-Id: coder-bot",
			want: map[string]string{"agent-id": "coder-bot"}},
		{name: "under a quarter trailers", message: "Fix\n\nSigned-off-by: A\none\ntwo\nthree\nfour", want: nil},
		{name: "space inside the key", message: "Fix\n\nAgent Id: coder-bot", want: nil},
		{name: "first value wins", message: "Fix\n\nAgent-Id: first\nAgent-Id: second",
			want: map[string]string{"agent-id": "first"}},
		{name: "empty value is skipped", message: "Fix\n\nAgent-Id:\nAgent-Id: later",
			want: map[string]string{"agent-id": "later"}},
		{name: "CRLF and trailing blank lines", message: "Fix\r\n\r\nAgent-Id: coder-bot\r\n\r\n\r\n",
			want: map[string]string{"agent-id": "coder-bot"}},
		{name: "value with a colon", message: "Fix\n\nAgent-Prompt: see: https://example.com/x",
			want: map[string]string{"agent-prompt": "see: https://example.com/x"}},
		{name: "continuation without a trailer", message: "Fix\n\n  indented\nAgent-Id: x", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.message)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tc.message, got, tc.want)
			}
		})
	}
}

func TestTrigger(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    event.Trigger
	}{
		{name: "agent trailers", message: "Fix\n\nAgent-Id: coder-bot\nAgent-Triggered-By: octocat\nReviewed-by: someone",
			want: event.Trigger{AgentID: "coder-bot", TriggeredBy: "octocat", Source: SourceCommitTrailer}},
		{name: "no agent trailers", message: "Fix\n\nReviewed-by: someone"},
		{name: "no trailers", message: "Fix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Trigger(tc.message); got != tc.want {
				t.Fatalf("Trigger = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTriggerClips(t *testing.T) {
	got := Trigger("Fix\n\nAgent-Prompt: " + strings.Repeat("é", 6000) + "\nAgent-Id: " + strings.Repeat("a", 600))
	if len(got.Prompt) != maxTrigger || len(got.AgentID) != maxField {
		t.Fatalf("prompt %d bytes, agent id %d bytes", len(got.Prompt), len(got.AgentID))
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Fix\n\nAgent-Id: x\n  continued")
	f.Add("x\n\n (cherry picked from commit 1)\nAgent-Id:")
	f.Fuzz(func(t *testing.T, msg string) {
		for k, v := range Parse(msg) {
			if k == "" || v == "" || k != strings.ToLower(k) {
				t.Fatalf("bad trailer %q: %q", k, v)
			}
		}
		_ = Trigger(msg)
	})
}
