package registry

import (
	"context"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/principal"
)

// Identity is who is behind an event.
type Identity struct {
	// Agent is the registered agent, nil for humans and unregistered agents.
	Agent *agents.Agent
	// Unregistered is true when the event looks machine-driven but its
	// principal is bound to no agent, or it claims an agent id that does not
	// own its principal.
	Unregistered bool
}

// Identify resolves the agent behind an event from its principal. A claimed
// agent id (a trailer or variable) is not trusted: it only flags an event
// whose principal does not belong to that agent as an unregistered agent.
//
// The event's principal is put in its canonical form first (package
// principal); one that is no principal at all is refused as invalid input,
// never taken for a human.
func (s *Service) Identify(ctx context.Context, ev *event.Event) (Identity, error) {
	canonical, err := principal.Canonical(ev.Principal)
	if err != nil {
		return Identity{}, apperr.Wrap(apperr.KindInvalid, event.ErrInvalidPrincipal, "event.principal %s", err.Error())
	}
	ev.Principal = canonical
	a, err := s.store.AgentByPrincipal(ctx, canonical)
	switch {
	case err == nil:
		if claim := ev.Trigger.AgentID; claim != "" && claim != a.ID && claim != a.Name {
			return Identity{Unregistered: true}, nil
		}
		return Identity{Agent: &a}, nil
	case apperr.KindOf(err) == apperr.KindNotFound:
		return Identity{Unregistered: ev.LooksMachine()}, nil
	default:
		return Identity{}, err
	}
}
