package github

import (
	"encoding/json"
	"strings"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/trailers"
)

// Trigger sources.
const (
	sourceCommitTrailer     = trailers.SourceCommitTrailer
	sourceDeploymentPayload = "deployment-payload"
)

// Length caps of event.Validate; trigger fields are clipped to them rather
// than refused, so that a long prompt does not leave a run ungoverned.
const (
	maxField   = 512
	maxTrigger = 8192
)

// trailerTrigger builds a trigger from a commit message's agent trailers
// (Agent-Id, Agent-Prompt, Agent-Reasoning, Agent-Triggered-By; see package
// trailers); it is empty when the message has none.
func trailerTrigger(message string) event.Trigger {
	return trailers.Trigger(message)
}

// payloadTrigger reads agent_id, prompt, reasoning and triggered_by from a
// deployment's free-form payload: a JSON object, or a string holding one.
// Anything else, and fields that are not strings, are ignored: the payload
// belongs to whoever created the deployment.
func payloadTrigger(raw json.RawMessage) event.Trigger {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return event.Trigger{}
	}
	str := func(key string, max int) string {
		var v string
		if json.Unmarshal(fields[key], &v) != nil {
			return ""
		}
		return providers.Clip(strings.TrimSpace(v), max)
	}
	tr := event.Trigger{
		AgentID:     str("agent_id", maxField),
		Prompt:      str("prompt", maxTrigger),
		Reasoning:   str("reasoning", maxTrigger),
		TriggeredBy: str("triggered_by", maxField),
	}
	if tr != (event.Trigger{}) {
		tr.Source = sourceDeploymentPayload
	}
	return tr
}
