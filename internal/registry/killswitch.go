package registry

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Kill sources.
const (
	SourceManual  = "manual"
	SourceAnomaly = "anomaly"
	// SourceRollback is a switch pulled because an agent's deploy was
	// rolled back automatically and the policy said kill.
	SourceRollback = "rollback"
)

// KillRequest engages a kill switch.
type KillRequest struct {
	Scope store.KillScope `json:"scope"`
	// Target is the agent id or name (scope agent) or the owner (scope owner).
	Target string `json:"target"`
	Reason string `json:"reason"`
	// Source is manual (default), anomaly or rollback.
	Source string `json:"-"`
}

// Engage pulls a kill switch. For an agent it also moves the agent to the
// killed state. Every pending approval the switch covers is rejected at
// once. Engaging a switch that is already engaged returns it unchanged with
// created false.
func (s *Service) Engage(ctx context.Context, actor string, r KillRequest) (ks store.KillSwitch, created bool, err error) {
	if strings.TrimSpace(r.Reason) == "" {
		return store.KillSwitch{}, false, apperr.Invalid("reason is required to engage a kill switch")
	}
	if r.Source == "" {
		r.Source = SourceManual
	}
	var (
		out      store.KillSwitch
		rejected []store.Approval
	)
	note := "kill switch engaged: " + r.Reason
	err = s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		now := s.now().UTC()
		ks := store.KillSwitch{ID: uuid.NewString(), Scope: r.Scope, Reason: r.Reason, Source: r.Source, EngagedBy: actor, EngagedAt: now}
		filter := store.ApprovalFilter{}
		rec := &audit.Record{ID: uuid.NewString(), Time: now, Kind: audit.KindKill, Actor: actor, Message: r.Reason}
		var agent *agents.Agent
		switch r.Scope {
		case store.ScopeAgent:
			a, err := getIn(ctx, q, r.Target)
			if err != nil {
				return err
			}
			if a.State == agents.StateDecommissioned {
				return apperr.Conflict("agent %s is decommissioned", a.Name)
			}
			ks.Target, filter.AgentID, agent = a.ID, a.ID, &a
		case store.ScopeOwner:
			if strings.TrimSpace(r.Target) == "" {
				return apperr.Invalid("target (the owner) is required for an owner kill switch")
			}
			ks.Target, filter.Owner, rec.Owner = r.Target, r.Target, r.Target
		case store.ScopeGlobal:
			if r.Target != "" {
				return apperr.Invalid("a global kill switch takes no target")
			}
		default:
			return apperr.Invalid("scope %q is not agent, owner or global", r.Scope)
		}
		stored, isNew, err := q.EngageKillSwitch(ctx, ks)
		if err != nil {
			return err
		}
		out, created = stored, isNew
		if !created {
			return nil
		}
		if agent != nil && agent.State != agents.StateKilled {
			agent.State, agent.UpdatedAt = agents.StateKilled, now
			if err := q.UpdateAgent(ctx, *agent); err != nil {
				return err
			}
			rec.AgentID, rec.AgentName, rec.AgentType, rec.Owner, rec.Tier = agent.ID, agent.Name, agent.Type, agent.Owner, string(agent.Tier)
		}
		rejected, err = resolvePending(ctx, q, filter, store.ApprovalRejected, actor, note, now)
		if err != nil {
			return err
		}
		rec.Details = map[string]string{"killswitch_id": stored.ID, "scope": string(stored.Scope), "target": stored.Target,
			"source": stored.Source, "approvals_rejected": approvalIDs(rejected)}
		return q.AppendAudit(ctx, rec)
	})
	if err != nil {
		return store.KillSwitch{}, false, err
	}
	s.resolved(ctx, rejected, note)
	if created {
		s.log.WarnContext(ctx, "kill switch engaged", "id", out.ID, "scope", out.Scope, "target", out.Target, "source", out.Source, "actor", actor)
	}
	return out, created, nil
}

// Release resets a kill switch. Releasing an agent's switch returns a
// killed agent to active.
func (s *Service) Release(ctx context.Context, actor, id, reason string) (store.KillSwitch, error) {
	var out store.KillSwitch
	err := s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		now := s.now().UTC()
		ks, err := q.ReleaseKillSwitch(ctx, id, actor, now)
		if err != nil {
			return err
		}
		out = ks
		rec := &audit.Record{ID: uuid.NewString(), Time: now, Kind: audit.KindKill, Actor: actor,
			Message: "kill switch released" + suffix(reason),
			Details: map[string]string{"killswitch_id": ks.ID, "scope": string(ks.Scope), "target": ks.Target, "change": "release"}}
		if ks.Scope == store.ScopeAgent {
			a, err := q.GetAgent(ctx, ks.Target)
			if err != nil {
				return err
			}
			rec.AgentID, rec.AgentName, rec.AgentType, rec.Owner, rec.Tier = a.ID, a.Name, a.Type, a.Owner, string(a.Tier)
			still, err := agentSwitchEngaged(ctx, q, a.ID)
			if err != nil {
				return err
			}
			if a.State == agents.StateKilled && !still {
				a.State, a.UpdatedAt = agents.StateActive, now
				if err := q.UpdateAgent(ctx, a); err != nil {
					return err
				}
			}
		}
		return q.AppendAudit(ctx, rec)
	})
	return out, err
}

// KillSwitch returns one switch.
func (s *Service) KillSwitch(ctx context.Context, id string) (store.KillSwitch, error) {
	return s.store.GetKillSwitch(ctx, id)
}

// KillSwitches lists switches.
func (s *Service) KillSwitches(ctx context.Context, activeOnly bool) ([]store.KillSwitch, error) {
	return s.store.ListKillSwitches(ctx, activeOnly)
}

// agentSwitchEngaged reports whether a switch on this very agent is still
// engaged (owner and global switches stop it too, but do not make it killed).
func agentSwitchEngaged(ctx context.Context, q store.Queries, agentID string) (bool, error) {
	list, err := q.ListKillSwitches(ctx, true)
	if err != nil {
		return false, err
	}
	for _, ks := range list {
		if ks.Scope == store.ScopeAgent && ks.Target == agentID {
			return true, nil
		}
	}
	return false, nil
}

func releaseAgentSwitches(ctx context.Context, q store.Queries, agentID, actor string, now time.Time) error {
	list, err := q.ListKillSwitches(ctx, true)
	if err != nil {
		return err
	}
	for _, ks := range list {
		if ks.Scope == store.ScopeAgent && ks.Target == agentID {
			if _, err := q.ReleaseKillSwitch(ctx, ks.ID, actor, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolvePending moves every pending approval matching f to state and
// returns their ids.
func resolvePending(ctx context.Context, q store.Queries, f store.ApprovalFilter, state store.ApprovalState, actor, note string, now time.Time) ([]store.Approval, error) {
	f.State = store.ApprovalPending
	list, err := q.ListApprovals(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []store.Approval
	for _, ap := range list {
		resolved, err := q.ResolveApproval(ctx, ap.ID, state, actor, note, now)
		if err != nil {
			if apperr.KindOf(err) == apperr.KindConflict {
				continue
			}
			return nil, err
		}
		out = append(out, resolved)
	}
	return out, nil
}

func approvalIDs(list []store.Approval) string {
	ids := make([]string, 0, len(list))
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	return strings.Join(ids, ",")
}

// resolved tells the approval service which held changes a kill switch or
// decommission refused, after the transaction committed.
func (s *Service) resolved(ctx context.Context, list []store.Approval, note string) {
	if len(list) > 0 && s.onResolved != nil {
		s.onResolved(ctx, list, note)
	}
}
