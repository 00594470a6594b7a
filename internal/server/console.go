package server

import (
	"context"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/console"
	"github.com/agentgate/agentgate/internal/promotion"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
)

// consoleKills gives the console the kill switches under the API's rules:
// engaging needs the operator role, releasing follows mayRelease.
type consoleKills struct{ s *Server }

var _ console.KillSwitches = consoleKills{}

func (k consoleKills) List(ctx context.Context, activeOnly bool) ([]store.KillSwitch, error) {
	return k.s.registry.KillSwitches(ctx, activeOnly)
}

func (k consoleKills) Engage(ctx context.Context, p console.Person, r console.KillRequest) (store.KillSwitch, error) {
	if role := config.Role(p.Role); role.Rank() < config.RoleOperator.Rank() {
		return store.KillSwitch{}, apperr.Forbidden("engaging a kill switch needs the operator role; %s has %s", p.Name, role)
	}
	ks, _, err := k.s.registry.Engage(ctx, p.Name, registry.KillRequest{Scope: r.Scope, Target: r.Target, Reason: r.Reason})
	return ks, err
}

func (k consoleKills) Release(ctx context.Context, p console.Person, id, reason string) (store.KillSwitch, error) {
	ks, err := k.s.registry.KillSwitch(ctx, id)
	if err != nil {
		return store.KillSwitch{}, err
	}
	if err := k.s.mayRelease(ctx, config.Role(p.Role), p.Name, ks); err != nil {
		return store.KillSwitch{}, err
	}
	return k.s.registry.Release(ctx, p.Name, ks.ID, reason)
}

// consoleApprovals gives the console the held changes; Resolve applies
// the approval's own rules (approval.Service.Resolve).
type consoleApprovals struct{ s *Server }

var _ console.Approvals = consoleApprovals{}

func (a consoleApprovals) List(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	return a.s.store.ListApprovals(ctx, f)
}

func (a consoleApprovals) Resolve(ctx context.Context, p console.Person, id string, approve bool, reason string) (store.Approval, error) {
	return a.s.approvals.Resolve(ctx, approval.Approver{Name: p.Name, Role: config.Role(p.Role), Groups: p.Groups, Aliases: p.Aliases}, id, approve, reason)
}

// consoleActions changes an agent's standing for the console with the
// API's roles: suspend, resume and kill need an operator (as their
// routes do), promote and demote an admin.
type consoleActions struct{ s *Server }

var _ console.AgentActions = consoleActions{}

func (a consoleActions) Act(ctx context.Context, p console.Person, action, id, reason string) error {
	need := config.RoleOperator
	if action == console.ActionPromote || action == console.ActionDemote {
		need = config.RoleAdmin
	}
	if role := config.Role(p.Role); role.Rank() < need.Rank() {
		return apperr.Forbidden("%s needs the %s role; %s has %s", action, need, p.Name, role)
	}
	r := a.s.registry
	var err error
	switch action {
	case console.ActionSuspend:
		_, err = r.Suspend(ctx, p.Name, id, reason)
	case console.ActionResume:
		_, err = r.Resume(ctx, p.Name, id, reason)
	case console.ActionKill:
		_, _, err = r.Engage(ctx, p.Name, registry.KillRequest{Scope: store.ScopeAgent, Target: id, Reason: reason})
	case console.ActionPromote:
		_, err = r.Promote(ctx, p.Name, id, "", reason)
	case console.ActionDemote:
		_, err = r.Demote(ctx, p.Name, id, "", reason)
	default:
		err = apperr.Invalid("unknown action %q", action)
	}
	return err
}

// consoleRollbacks gives the console the watches, with their agents
// named as the API names them, and the rollbacks.
type consoleRollbacks struct{ s *Server }

var _ console.Rollbacks = consoleRollbacks{}

func (r consoleRollbacks) Watches(ctx context.Context, live bool, limit int) ([]rollback.WatchStatus, error) {
	ws, err := r.s.rollbacks.Watches(ctx, live, limit)
	if err != nil {
		return nil, err
	}
	items := make([]rollback.WatchStatus, 0, len(ws))
	for _, w := range ws {
		items = append(items, rollback.StatusOf(w))
	}
	r.s.nameAgents(ctx, items)
	return items, nil
}

func (r consoleRollbacks) Rollbacks(ctx context.Context, limit int) ([]rollback.Rollback, error) {
	return r.s.rollbacks.Rollbacks(ctx, limit)
}

// consolePromotions gives the console the pending proposals and decides
// them under the API's rules (promotion.Service: the owner or an admin).
type consolePromotions struct{ s *Server }

var _ console.Promotions = consolePromotions{}

func (c consolePromotions) Pending(ctx context.Context, agentID string) (*store.Proposal, error) {
	return c.s.promotions.Pending(ctx, agentID)
}

func (c consolePromotions) Decide(ctx context.Context, p console.Person, id string, confirm bool, text string) (store.Proposal, error) {
	who := promotion.Person{Name: p.Name, Role: config.Role(p.Role)}
	if confirm {
		return c.s.promotions.Confirm(ctx, who, id, text)
	}
	return c.s.promotions.Refuse(ctx, who, id, text)
}
