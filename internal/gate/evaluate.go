package gate

import (
	"context"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

// Evaluate is a dry run: the decision the event would get now and the
// rules behind it. Nothing is charged, no approval is created and no
// delivery is claimed; an audit record of kind evaluate notes who asked.
func (g *Gate) Evaluate(ctx context.Context, req Request) (Result, error) {
	leave, err := g.admit.enter(ctx, req.Event.Principal)
	if err != nil {
		return Result{}, err
	}
	defer leave()
	p, err := g.prepare(ctx, req.Event)
	if err != nil {
		return Result{}, g.storeDown(err)
	}
	res := p.result()
	res.DryRun, res.DryRunViolations = true, p.dryrun
	if p.ident.Agent != nil && res.Outcome == Allow && !p.ev.IsEnd() && !p.ev.IsReport() {
		for _, c := range p.charges {
			u := p.usage[c.Name]
			cost := c.Cost
			if c.Concurrency || cost <= 0 {
				cost = 1
			}
			r := store.QuotaResult{Name: c.Name, Used: u.Used, Limit: c.Limit, Allowed: u.Used+cost <= c.Limit}
			res.Quotas = append(res.Quotas, r)
			if !r.Allowed {
				res.Outcome = Deny
				res.Reasons = append(res.Reasons, quotaReason(c, r))
			}
		}
		res.Effective = p.effectiveOf(res.Outcome)
	}
	if res.Effective == ApprovalRequired {
		req := p.policy.RequireApproval
		res.Approval = &ApprovalRef{Approvers: req.Approvers, Reason: req.Reason, ExpiresAt: p.now.Add(timeOf(req.TTL))}
	}
	rec := p.auditRecord(audit.KindEvaluate, req, res)
	if err := g.o.Store.AppendAudit(ctx, rec); err != nil {
		return Result{}, g.storeDown(fmt.Errorf("append audit record: %w", err))
	}
	res.DecisionID, res.AuditSeq = rec.ID, rec.Seq
	return res, nil
}

func timeOf(d policy.Duration) time.Duration { return time.Duration(d) }
