package event

import (
	"errors"
	"fmt"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/principal"
)

// Field length caps keep one event from bloating the store and the audit log.
const (
	maxField   = 512
	maxTrigger = 8192
	maxMapLen  = 64
	maxValue   = 4 * maxField
)

// ErrInvalidPrincipal is wrapped by Validate's error when the principal is
// no provider's principal (a space, a control or zero-width character, a
// non-ASCII GitHub login): such an event is an attempt to be taken for
// someone else, and the gate records its refusal.
var ErrInvalidPrincipal = errors.New("invalid principal")

// Validate checks that the event is complete enough to decide on. Its
// errors are apperr.KindInvalid and name the offending field.
func (e *Event) Validate() error {
	if e.Provider == "" {
		return apperr.Invalid("event.provider is required")
	}
	switch e.Kind {
	case KindBuild, KindDeploy, KindWorkflow, KindSync, KindAPI:
	case "":
		return apperr.Invalid("event.kind is required (build, deploy, workflow, sync or api)")
	default:
		return apperr.Invalid("event.kind %q is not one of build, deploy, workflow, sync, api", e.Kind)
	}
	switch e.Phase {
	case "", PhaseStart, PhaseEnd, PhaseReport:
	default:
		return apperr.Invalid("event.phase %q is not one of start, end, report", e.Phase)
	}
	if e.Principal == "" {
		return apperr.Invalid("event.principal is required")
	}
	if _, err := principal.Canonical(e.Principal); err != nil {
		return apperr.Wrap(apperr.KindInvalid, ErrInvalidPrincipal, "event.principal %s", err.Error())
	}
	if e.Initiator != "" {
		if _, err := principal.Canonical(e.Initiator); err != nil {
			return apperr.Wrap(apperr.KindInvalid, ErrInvalidPrincipal, "event.initiator %s", err.Error())
		}
	}
	fields := map[string]string{
		"provider": e.Provider, "action": e.Action, "repo": e.Repo, "ref": e.Ref,
		"sha": e.SHA, "environment": e.Environment, "namespace": e.Namespace,
		"principal": e.Principal, "initiator": e.Initiator, "session_id": e.SessionID, "trigger.agent_id": e.Trigger.AgentID,
		"trigger.source": e.Trigger.Source, "trigger.triggered_by": e.Trigger.TriggeredBy,
	}
	for name, v := range fields {
		if len(v) > maxField {
			return apperr.Invalid("event.%s is %d bytes, the limit is %d", name, len(v), maxField)
		}
	}
	for name, v := range map[string]string{"prompt": e.Trigger.Prompt, "reasoning": e.Trigger.Reasoning} {
		if len(v) > maxTrigger {
			return apperr.Invalid("event.trigger.%s is %d bytes, the limit is %d", name, len(v), maxTrigger)
		}
	}
	for name, m := range map[string]map[string]string{"handles": e.Handles, "labels": e.Labels} {
		if len(m) > maxMapLen {
			return apperr.Invalid("event.%s has %d entries, the limit is %d", name, len(m), maxMapLen)
		}
		for k, v := range m {
			if len(k) > maxField {
				return apperr.Invalid("event.%s key %q is %d bytes, the limit is %d", name, truncate(k), len(k), maxField)
			}
			if len(v) > maxValue {
				return apperr.Invalid("event.%s[%q] value is %d bytes, the limit is %d", name, truncate(k), len(v), maxValue)
			}
		}
	}
	if e.Cost != nil && (e.Cost.Minutes < 0 || e.Cost.Amount < 0) {
		return apperr.Invalid("event.cost must not be negative")
	}
	return nil
}

// CanonicalPrincipal returns the event's principal in its canonical form
// (package principal), or the principal as it is when it is invalid, which
// Validate reports.
func (e *Event) CanonicalPrincipal() string { return canonicalOr(e.Principal) }

// CanonicalInitiator is CanonicalPrincipal for the initiator.
func (e *Event) CanonicalInitiator() string { return canonicalOr(e.Initiator) }

func canonicalOr(p string) string {
	c, err := principal.Canonical(p)
	if err != nil {
		return p
	}
	return c
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
