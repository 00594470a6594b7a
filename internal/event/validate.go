package event

import (
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
)

// Field length caps keep one event from bloating the store and the audit log.
const (
	maxField   = 512
	maxTrigger = 8192
	maxMapLen  = 64
)

// Validate checks that the event is complete enough to decide on. Its
// errors are apperr.KindInvalid and name the offending field.
func (e *Event) Validate() error {
	if e.Provider == "" {
		return apperr.Invalid("event.provider is required")
	}
	switch e.Kind {
	case KindBuild, KindDeploy, KindWorkflow, KindSync:
	case "":
		return apperr.Invalid("event.kind is required (build, deploy, workflow or sync)")
	default:
		return apperr.Invalid("event.kind %q is not one of build, deploy, workflow, sync", e.Kind)
	}
	switch e.Phase {
	case "", PhaseStart, PhaseEnd, PhaseReport:
	default:
		return apperr.Invalid("event.phase %q is not one of start, end, report", e.Phase)
	}
	if e.Principal == "" {
		return apperr.Invalid("event.principal is required")
	}
	if !strings.Contains(e.Principal, ":") {
		return apperr.Invalid("event.principal %q must be provider-qualified, e.g. github:login", e.Principal)
	}
	fields := map[string]string{
		"provider": e.Provider, "action": e.Action, "repo": e.Repo, "ref": e.Ref,
		"sha": e.SHA, "environment": e.Environment, "namespace": e.Namespace,
		"principal": e.Principal, "trigger.agent_id": e.Trigger.AgentID,
		"trigger.source": e.Trigger.Source, "trigger.triggered_by": e.Trigger.TriggeredBy,
	}
	for name, v := range fields {
		if len(v) > maxField {
			return apperr.Invalid("event.%s is longer than %d bytes", name, maxField)
		}
	}
	if len(e.Trigger.Prompt) > maxTrigger || len(e.Trigger.Reasoning) > maxTrigger {
		return apperr.Invalid("event.trigger.prompt and reasoning are limited to %d bytes each", maxTrigger)
	}
	for name, m := range map[string]map[string]string{"handles": e.Handles, "labels": e.Labels} {
		if len(m) > maxMapLen {
			return apperr.Invalid("event.%s has more than %d entries", name, maxMapLen)
		}
		for k, v := range m {
			if len(k) > maxField || len(v) > maxField*4 {
				return apperr.Invalid("event.%s[%q] is too long", name, truncate(k))
			}
		}
	}
	if e.Cost != nil && (e.Cost.Minutes < 0 || e.Cost.Amount < 0) {
		return apperr.Invalid("event.cost must not be negative")
	}
	return nil
}

// Normalize fills defaults in place: the start phase.
func (e *Event) Normalize() {
	if e.Phase == "" {
		e.Phase = PhaseStart
	}
}

func truncate(s string) string {
	if len(s) > 32 {
		return fmt.Sprintf("%s…", s[:32])
	}
	return s
}
