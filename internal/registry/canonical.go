package registry

import (
	"context"
	"fmt"
	"slices"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/principal"
	"github.com/agentgate/agentgate/internal/store"
)

// CanonicalizeStored puts the principals of agents registered before
// principals had one canonical form into that form (an upper-case GitHub
// login becomes lower-case, and so on), each change audited. A stored
// principal that is no valid principal at all (it holds a space, a control
// or a zero-width character) can match no event any more and is unbound.
// Two agents whose principals turn out to be one principal are an error
// that names both: the service must not guess which of them it is. It
// returns how many agents changed.
func (s *Service) CanonicalizeStored(ctx context.Context) (int, error) {
	list, err := s.store.ListAgents(ctx, store.AgentFilter{})
	if err != nil {
		return 0, fmt.Errorf("list agents: %w", err)
	}
	owner := map[string]agents.Agent{}
	type fix struct {
		agent   agents.Agent
		keep    []string
		dropped []string
	}
	var fixes []fix
	for _, a := range list {
		f := fix{agent: a}
		for _, p := range a.Principals {
			c, err := principal.Canonical(p)
			if err != nil {
				f.dropped = append(f.dropped, p)
				continue
			}
			if other, ok := owner[c]; ok && other.ID != a.ID {
				return 0, fmt.Errorf("agents %q and %q both hold principal %q (stored as different spellings); unbind it from one of them before starting", other.Name, a.Name, c)
			}
			owner[c] = a
			if !slices.Contains(f.keep, c) {
				f.keep = append(f.keep, c)
			}
		}
		if len(f.dropped) > 0 || !slices.Equal(f.keep, a.Principals) {
			fixes = append(fixes, f)
		}
	}
	for _, f := range fixes {
		_, err := s.mutate(ctx, "agentgate", f.agent.ID, audit.KindAdminChange, "principals put in canonical form", func(a *agents.Agent) (map[string]string, error) {
			before := a.Principals
			a.Principals = f.keep
			return map[string]string{"change": "canonical-principals", "before": fmt.Sprintf("%q", before),
				"after": fmt.Sprint(f.keep), "unbound_invalid": fmt.Sprintf("%q", f.dropped)}, nil
		})
		if err != nil {
			return 0, fmt.Errorf("canonicalize principals of agent %q: %w", f.agent.Name, err)
		}
		s.log.WarnContext(ctx, "stored principals put in canonical form", "agent", f.agent.Name, "unbound_invalid", len(f.dropped))
	}
	return len(fixes), nil
}
