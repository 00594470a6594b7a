package gitlab

import (
	"strings"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/trailers"
)

// Trigger sources.
const (
	sourcePipelineVariables = "pipeline-variables"
	sourceCommitTrailer     = trailers.SourceCommitTrailer
)

// Pipeline variables an agent sets when it starts a pipeline (through the
// API, a trigger token or the UI): GitLab lists them in the pipeline hook's
// object_attributes.variables.
const (
	varAgentID     = "AGENT_ID"
	varPrompt      = "AGENT_PROMPT"
	varReasoning   = "AGENT_REASONING"
	varTriggeredBy = "AGENT_TRIGGERED_BY"
)

// Length caps of event.Validate; values are clipped to them rather than
// refused, so that a long prompt does not leave a pipeline ungoverned.
const (
	maxField   = 512
	maxTrigger = 8192
)

// pipelineTrigger reads the trigger from the pipeline's AGENT_* variables
// (source "pipeline-variables"); when it sets none, from the agent trailers
// of the head commit's message (source "commit-trailer").
func pipelineTrigger(vars []variable, message string) event.Trigger {
	get := func(key string, max int) string {
		for _, v := range vars {
			if v.Key == key {
				if s := strings.TrimSpace(v.Value); s != "" {
					return providers.Clip(s, max)
				}
			}
		}
		return ""
	}
	tr := event.Trigger{
		AgentID:     get(varAgentID, maxField),
		Prompt:      get(varPrompt, maxTrigger),
		Reasoning:   get(varReasoning, maxTrigger),
		TriggeredBy: get(varTriggeredBy, maxField),
	}
	if tr != (event.Trigger{}) {
		tr.Source = sourcePipelineVariables
		return tr
	}
	return trailers.Trigger(message)
}
