package github

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/agentgate/agentgate/internal/event"
)

func TestCommitTrailers(t *testing.T) {
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
			got := commitTrailers(tc.message)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("commitTrailers(%q) = %v, want %v", tc.message, got, tc.want)
			}
		})
	}
}

func TestTrailerTrigger(t *testing.T) {
	got := trailerTrigger("Fix\n\nAgent-Id: coder-bot\nAgent-Triggered-By: octocat\nReviewed-by: someone")
	want := event.Trigger{AgentID: "coder-bot", TriggeredBy: "octocat", Source: sourceCommitTrailer}
	if got != want {
		t.Fatalf("trailerTrigger = %+v, want %+v", got, want)
	}
	if got := trailerTrigger("Fix\n\nReviewed-by: someone"); got != (event.Trigger{}) {
		t.Fatalf("no agent trailers gave %+v", got)
	}
}

func TestPayloadTrigger(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want event.Trigger
	}{
		{name: "object", raw: `{"agent_id":"a","prompt":"p","reasoning":"r","triggered_by":"h","other":1}`,
			want: event.Trigger{AgentID: "a", Prompt: "p", Reasoning: "r", TriggeredBy: "h", Source: sourceDeploymentPayload}},
		{name: "string holding an object", raw: `"{\"agent_id\":\"a\"}"`,
			want: event.Trigger{AgentID: "a", Source: sourceDeploymentPayload}},
		{name: "empty object", raw: `{}`},
		{name: "empty string", raw: `""`},
		{name: "absent", raw: ``},
		{name: "not an object", raw: `[1,2]`},
		{name: "non-string fields are ignored", raw: `{"agent_id":7,"prompt":"p"}`,
			want: event.Trigger{Prompt: "p", Source: sourceDeploymentPayload}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := payloadTrigger(json.RawMessage(tc.raw)); got != tc.want {
				t.Fatalf("payloadTrigger(%s) = %+v, want %+v", tc.raw, got, tc.want)
			}
		})
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{name: "short", in: "abc", max: 5, want: "abc"},
		{name: "ascii", in: "abcdef", max: 3, want: "abc"},
		{name: "does not split a rune", in: "aé", max: 2, want: "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := clip(tc.in, tc.max); got != tc.want {
				t.Fatalf("clip(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}
