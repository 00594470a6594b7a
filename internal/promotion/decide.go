package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/store"
)

// Person is who confirms or refuses a proposal.
type Person struct {
	Name string
	Role config.Role
	// Agent is true for an agent's own token: agents never decide.
	Agent bool
}

// Confirm applies a pending proposal for who: an admin, or the agent's
// owner with the operator role or higher.
func (s *Service) Confirm(ctx context.Context, who Person, id, note string) (store.Proposal, error) {
	p, err := s.decidable(ctx, who, id)
	if err != nil {
		return p, err
	}
	return s.apply(ctx, p, who.Name, note)
}

// Refuse refuses a pending proposal for who (the same people as Confirm);
// a reason is required.
func (s *Service) Refuse(ctx context.Context, who Person, id, reason string) (store.Proposal, error) {
	if strings.TrimSpace(reason) == "" {
		return store.Proposal{}, apperr.Invalid("a reason is required to refuse a promotion")
	}
	p, err := s.decidable(ctx, who, id)
	if err != nil {
		return p, err
	}
	a, err := s.o.Registry.Get(ctx, p.AgentID)
	if err != nil {
		return p, err
	}
	return s.resolve(ctx, p, a, store.ProposalRefused, who.Name, reason, nil)
}

// decidable returns the pending proposal id if who may decide it.
func (s *Service) decidable(ctx context.Context, who Person, id string) (store.Proposal, error) {
	p, err := s.o.Store.GetProposal(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Proposal{}, apperr.NotFound("promotion proposal %q not found", id)
	}
	if err != nil {
		return store.Proposal{}, err
	}
	switch {
	case who.Agent:
		return store.Proposal{}, apperr.Forbidden("agents never confirm or refuse promotions")
	case who.Role == config.RoleAdmin:
	case who.Role.Rank() >= config.RoleOperator.Rank() && p.Owner != "" && strings.EqualFold(who.Name, p.Owner):
	default:
		return store.Proposal{}, apperr.Forbidden("only an admin or the agent's owner (%s) with the operator role may decide its promotion; %s has %s", p.Owner, who.Name, who.Role)
	}
	if p.State != store.ProposalPending {
		return p, apperr.Conflict("promotion proposal %s is already %s", p.ID, p.State)
	}
	return p, nil
}

// apply promotes the proposal's agent from its from tier to its to tier
// and marks it applied. An agent whose tier moved meanwhile is not
// promoted: the proposal is withdrawn.
func (s *Service) apply(ctx context.Context, p store.Proposal, actor, note string) (store.Proposal, error) {
	a, err := s.o.Registry.Get(ctx, p.AgentID)
	if err != nil {
		return p, err
	}
	if a.Tier != p.FromTier {
		why := fmt.Sprintf("the agent's tier changed from %s to %s", p.FromTier, a.Tier)
		_, werr := s.resolve(ctx, p, a, store.ProposalWithdrawn, Actor, why, nil)
		return p, errors.Join(apperr.Conflict("promotion proposal %s is withdrawn: %s", p.ID, why), ignoreConflict(werr))
	}
	reason := fmt.Sprintf("track record (promotion proposal %s)", p.ID)
	if note != "" {
		reason += ": " + note
	}
	promoted, err := s.o.Registry.Promote(ctx, actor, a.ID, p.ToTier, reason)
	if err != nil {
		return p, err
	}
	return s.resolve(ctx, p, promoted, store.ProposalApplied, actor, note, nil)
}

// resolve moves p, of agent a as it stands now, to state and audits it in
// one transaction. ev nil takes the evidence the proposal kept.
func (s *Service) resolve(ctx context.Context, p store.Proposal, a agents.Agent, state store.ProposalState, by, note string, ev *Evidence) (store.Proposal, error) {
	var e Evidence
	if ev != nil {
		e = *ev
	} else {
		_ = json.Unmarshal(p.Evidence, &e)
	}
	var out store.Proposal
	err := s.o.Store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		var err error
		if out, err = q.ResolveProposal(ctx, p.ID, state, by, note, s.o.Now()); err != nil {
			return err
		}
		msg := map[store.ProposalState]string{
			store.ProposalApplied: "promotion to %s applied", store.ProposalRefused: "promotion to %s refused",
			store.ProposalWithdrawn: "promotion to %s withdrawn",
		}[state]
		return q.AppendAudit(ctx, s.record(out, a, by, fmt.Sprintf(msg, p.ToTier), e, note))
	})
	if errors.Is(err, store.ErrConflict) {
		return out, apperr.Conflict("promotion proposal %s is already %s", p.ID, out.State)
	}
	return out, err
}

func ignoreConflict(err error) error {
	if apperr.KindOf(err) == apperr.KindConflict || errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// Proposal returns one proposal.
func (s *Service) Proposal(ctx context.Context, id string) (store.Proposal, error) {
	p, err := s.o.Store.GetProposal(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Proposal{}, apperr.NotFound("promotion proposal %q not found", id)
	}
	return p, err
}

// Pending returns the agent's pending proposal, nil when it has none.
func (s *Service) Pending(ctx context.Context, agentID string) (*store.Proposal, error) {
	list, err := s.o.Store.ListProposals(ctx, store.ProposalFilter{State: store.ProposalPending, AgentID: agentID, Limit: 1})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return &list[0], nil
}
