package registry

import (
	"context"
	"strings"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// SetTier moves an agent to another trust tier. Promotion and demotion
// need a reason; the change is audited as a promotion record.
func (s *Service) SetTier(ctx context.Context, actor, id string, to agents.Tier, reason string) (agents.Agent, error) {
	if strings.TrimSpace(reason) == "" {
		return agents.Agent{}, apperr.Invalid("reason is required to change an agent's tier")
	}
	if to.Rank() < 0 {
		return agents.Agent{}, apperr.Invalid("tier %q is not one of new, established, trusted", to)
	}
	return s.mutate(ctx, actor, id, audit.KindPromotion, "tier changed", func(a *agents.Agent) (map[string]string, error) {
		if a.State == agents.StateDecommissioned {
			return nil, apperr.Conflict("agent %s is decommissioned", a.Name)
		}
		if a.Tier == to {
			return nil, apperr.Conflict("agent %s is already in tier %s", a.Name, to)
		}
		from := a.Tier
		a.Tier = to
		return map[string]string{"from_tier": string(from), "to_tier": string(to), "reason": reason}, nil
	})
}

// Promote moves an agent one tier up (or to the given tier, which must be higher).
func (s *Service) Promote(ctx context.Context, actor, id string, to agents.Tier, reason string) (agents.Agent, error) {
	return s.step(ctx, actor, id, to, reason, +1)
}

// Demote moves an agent one tier down (or to the given tier, which must be lower).
func (s *Service) Demote(ctx context.Context, actor, id string, to agents.Tier, reason string) (agents.Agent, error) {
	return s.step(ctx, actor, id, to, reason, -1)
}

func (s *Service) step(ctx context.Context, actor, id string, to agents.Tier, reason string, dir int) (agents.Agent, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return agents.Agent{}, err
	}
	tiers := agents.Tiers()
	if to == "" {
		next := a.Tier.Rank() + dir
		if next < 0 || next >= len(tiers) {
			return agents.Agent{}, apperr.Conflict("agent %s is already at tier %s", a.Name, a.Tier)
		}
		to = tiers[next]
	}
	if to.Rank() < 0 {
		return agents.Agent{}, apperr.Invalid("tier %q is not one of new, established, trusted", to)
	}
	if (to.Rank()-a.Tier.Rank())*dir <= 0 {
		verb := map[int]string{1: "promote", -1: "demote"}[dir]
		return agents.Agent{}, apperr.Conflict("cannot %s agent %s from %s to %s", verb, a.Name, a.Tier, to)
	}
	return s.SetTier(ctx, actor, a.ID, to, reason)
}

// Suspend stops an active agent until it is resumed.
func (s *Service) Suspend(ctx context.Context, actor, id, reason string) (agents.Agent, error) {
	return s.transition(ctx, actor, id, reason, "suspend", agents.StateSuspended, agents.StateActive)
}

// Resume returns a suspended or killed agent to active. Resuming a killed
// agent also releases the agent's kill switches.
func (s *Service) Resume(ctx context.Context, actor, id, reason string) (agents.Agent, error) {
	var out agents.Agent
	err := s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		a, err := getIn(ctx, q, id)
		if err != nil {
			return err
		}
		if a.State != agents.StateSuspended && a.State != agents.StateKilled {
			return apperr.Conflict("agent %s is %s; only a suspended or killed agent can be resumed", a.Name, a.State)
		}
		now := s.now().UTC()
		if a.State == agents.StateKilled {
			if err := releaseAgentSwitches(ctx, q, a.ID, actor, now); err != nil {
				return err
			}
		}
		from := a.State
		a.State, a.UpdatedAt = agents.StateActive, now
		if err := q.UpdateAgent(ctx, a); err != nil {
			return err
		}
		a.Version++
		out = a
		return appendChange(ctx, q, audit.KindAdminChange, actor, a, "agent resumed"+suffix(reason),
			map[string]string{"change": "resume", "from_state": string(from), "reason": reason}, now)
	})
	return out, err
}

// Decommission retires an agent for good: its principals are unbound (so
// they may be registered again), its tokens stop working, its pending
// approvals are cancelled, and its history stays.
func (s *Service) Decommission(ctx context.Context, actor, id, reason string) (agents.Agent, error) {
	var (
		out       agents.Agent
		cancelled []store.Approval
	)
	err := s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		a, err := getIn(ctx, q, id)
		if err != nil {
			return err
		}
		if a.State == agents.StateDecommissioned {
			return apperr.Conflict("agent %s is already decommissioned", a.Name)
		}
		now := s.now().UTC()
		released := a.Principals
		a.State, a.Principals, a.UpdatedAt = agents.StateDecommissioned, []string{}, now
		if err := q.UpdateAgent(ctx, a); err != nil {
			return err
		}
		a.Version++
		if err := q.ExpireTokens(ctx, a.ID, now); err != nil {
			return err
		}
		if cancelled, err = resolvePending(ctx, q, store.ApprovalFilter{AgentID: a.ID}, store.ApprovalCancelled, actor, "agent decommissioned", now); err != nil {
			return err
		}
		out = a
		return appendChange(ctx, q, audit.KindAdminChange, actor, a, "agent decommissioned"+suffix(reason),
			map[string]string{"change": "decommission", "unbound_principals": strings.Join(released, ","), "reason": reason}, now)
	})
	if err == nil {
		s.resolved(ctx, cancelled, "agent decommissioned")
	}
	return out, err
}

func (s *Service) transition(ctx context.Context, actor, id, reason, verb string, to agents.State, from ...agents.State) (agents.Agent, error) {
	return s.mutate(ctx, actor, id, audit.KindAdminChange, "agent "+verb+"ed", func(a *agents.Agent) (map[string]string, error) {
		ok := false
		for _, f := range from {
			ok = ok || a.State == f
		}
		if !ok {
			return nil, apperr.Conflict("cannot %s agent %s: it is %s", verb, a.Name, a.State)
		}
		prev := a.State
		a.State = to
		return map[string]string{"change": verb, "from_state": string(prev), "reason": reason}, nil
	})
}

func suffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}
