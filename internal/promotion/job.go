package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

// Summary counts what one pass did.
type Summary struct {
	Assessed, Proposed, Applied, Withdrawn int
}

// Evidence is what a proposal and its audit records keep of the pass.
type Evidence struct {
	Record   policy.TrackRecord `json:"record"`
	Criteria []policy.Criterion `json:"criteria"`
	Reasons  []string           `json:"reasons"`
}

// RunOnce assesses every active agent: a qualifying one is proposed (and
// in auto mode promoted), and a pending proposal of an agent that no
// longer qualifies, or whose tier changed, is withdrawn. One agent's
// failure is logged and does not stop the pass.
func (s *Service) RunOnce(ctx context.Context) (Summary, error) {
	var sum Summary
	list, err := s.o.Registry.List(ctx, store.AgentFilter{State: agents.StateActive})
	if err != nil {
		return sum, fmt.Errorf("promotion: list agents: %w", err)
	}
	var errs []error
	for _, a := range list {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if err := s.pass(ctx, a, &sum); err != nil {
			if errors.Is(err, policy.ErrNoPromotionRules) {
				return sum, nil
			}
			s.o.Logger.WarnContext(ctx, "promotion: assessing an agent failed", "agent", a.Name, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return sum, fmt.Errorf("promotion: %d of %d agents could not be assessed: %w", len(errs), len(list), errs[0])
	}
	return sum, nil
}

func (s *Service) pass(ctx context.Context, a agents.Agent, sum *Summary) error {
	r, as, err := s.Assess(ctx, a)
	if err != nil {
		return err
	}
	sum.Assessed++
	pending, err := s.Pending(ctx, a.ID)
	if err != nil {
		return err
	}
	ev := Evidence{Record: r, Criteria: as.Criteria, Reasons: as.Reasons}
	if pending != nil {
		p := *pending
		if as.Eligible && p.FromTier == a.Tier && p.ToTier == as.To {
			return nil // still waiting for a person
		}
		why := "the agent no longer qualifies: " + strings.Join(as.Reasons, "; ")
		if p.FromTier != a.Tier {
			why = fmt.Sprintf("the agent's tier changed from %s to %s", p.FromTier, a.Tier)
		}
		if _, err := s.resolve(ctx, p, a, store.ProposalWithdrawn, Actor, why, &ev); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		sum.Withdrawn++
	}
	if !as.Eligible {
		return nil
	}
	evidence, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	p := store.Proposal{ID: uuid.NewString(), AgentID: a.ID, AgentName: a.Name, Owner: a.Owner, FromTier: a.Tier, ToTier: as.To,
		State: store.ProposalPending, Evidence: evidence, PolicyRevision: as.Revision, CreatedAt: s.o.Now().UTC()}
	var created bool
	err = s.o.Store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		var err error
		if p, created, err = q.CreateProposal(ctx, p); err != nil || !created {
			return err
		}
		return q.AppendAudit(ctx, s.record(p, a, Actor, fmt.Sprintf("promotion to %s proposed from the track record", p.ToTier), ev, ""))
	})
	if err != nil || !created {
		return err
	}
	sum.Proposed++
	s.o.Logger.InfoContext(ctx, "promotion proposed", "agent", a.Name, "from", p.FromTier, "to", p.ToTier, "mode", s.o.Mode)
	if s.o.Mode == ModeAuto {
		if _, err := s.apply(ctx, p, Actor, "applied at once (promotion.mode auto)"); err != nil {
			return err
		}
		sum.Applied++
		return nil
	}
	if s.o.OnProposal != nil {
		s.o.OnProposal(ctx, p)
	}
	return nil
}

// record is the audit record of a proposal event.
func (s *Service) record(p store.Proposal, a agents.Agent, actor, msg string, ev Evidence, note string) *audit.Record {
	d := map[string]string{
		"proposal_id": p.ID, "proposal_state": string(p.State), "from_tier": string(p.FromTier), "to_tier": string(p.ToTier),
		"policy_revision": p.PolicyRevision,
		"decisions":       fmt.Sprint(ev.Record.Decisions), "denied": fmt.Sprint(ev.Record.Denied), "window_days": fmt.Sprint(ev.Record.Days),
		"days_since_kill": fmt.Sprint(ev.Record.DaysSinceKill), "days_since_rollback": fmt.Sprint(ev.Record.DaysSinceRollback),
		"days_since_tier_change": fmt.Sprint(ev.Record.DaysSinceTierChange), "age_days": fmt.Sprint(ev.Record.AgeDays),
		"reasons": strings.Join(ev.Reasons, "; "),
	}
	if note != "" {
		d["note"] = note
	}
	return &audit.Record{ID: uuid.NewString(), Time: s.o.Now().UTC(), Kind: audit.KindProposal, Actor: actor,
		AgentID: a.ID, AgentName: a.Name, AgentType: a.Type, Owner: a.Owner, Tier: string(a.Tier), Message: msg, Details: d}
}
