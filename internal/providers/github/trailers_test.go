package github

import (
	"encoding/json"
	"testing"

	"github.com/agentgate/agentgate/internal/event"
)

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
