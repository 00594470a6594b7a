package gate

import (
	"context"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

// prior is what earlier refusals of the same change left: the newest
// approval in each state that still counts.
type prior struct {
	approved *store.Approval // approved, unused, within its window
	rejected *store.Approval // rejected within its window
	pending  *store.Approval // pending, not yet expired
}

// priorApprovals finds the approvals of the event's change (provider, repo,
// sha, environment) for the agent. An approved or rejected approval counts
// for as long after its resolution as it was open for (its TTL), a pending
// one until it expires.
func (p *plan) priorApprovals(ctx context.Context, q store.Queries) (prior, error) {
	ev := &p.ev
	list, err := q.ListApprovals(ctx, store.ApprovalFilter{AgentID: p.ident.Agent.ID,
		Action: &store.ApprovalAction{Provider: ev.Provider, Repo: ev.Repo, SHA: ev.SHA, Environment: ev.Environment}})
	if err != nil {
		return prior{}, fmt.Errorf("find approvals of the change: %w", err)
	}
	var pr prior
	for i := range list { // newest first
		ap := &list[i]
		switch ap.State {
		case store.ApprovalPending:
			if pr.pending == nil && p.now.Before(ap.ExpiresAt) {
				pr.pending = ap
			}
		case store.ApprovalApproved:
			if pr.approved == nil && pr.rejected == nil && ap.UsedAt == nil && p.now.Before(resolvedWindow(ap)) {
				pr.approved = ap
			}
		case store.ApprovalRejected:
			if pr.rejected == nil && pr.approved == nil && p.now.Before(resolvedWindow(ap)) {
				pr.rejected = ap
			}
		}
	}
	return pr, nil
}

// resolvedWindow is when a resolved approval stops counting for
// resubmissions: as long after its resolution as it was open.
func resolvedWindow(ap *store.Approval) time.Time {
	if ap.ResolvedAt == nil {
		return ap.ExpiresAt
	}
	return ap.ResolvedAt.Add(ap.ExpiresAt.Sub(ap.CreatedAt))
}

// applyPrior turns an approval_required result of a resubmittable event
// into what earlier refusals decided: allow once approved, deny while a
// rejection stands, or the same pending approval (no second request).
// It returns the approval a resubmission uses, if any.
func (p *plan) applyPrior(pr prior, res *Result) *store.Approval {
	switch {
	case pr.approved != nil:
		ap := pr.approved
		res.Outcome, res.Effective, res.Reasons = Allow, p.effectiveOf(Allow), []policy.Reason{}
		res.Warnings = append(res.Warnings, usedWarning(ap))
		res.Approval = approvalRef(ap)
		return ap
	case pr.rejected != nil:
		ap := pr.rejected
		res.Outcome, res.Effective = Deny, p.effectiveOf(Deny)
		msg := fmt.Sprintf("%s rejected this change (approval %s)", ap.ResolvedBy, ap.ID)
		if ap.ResolvedNote != "" {
			msg += ": " + ap.ResolvedNote
		}
		msg += fmt.Sprintf("; change it, or submit it again after %s to ask again", resolvedWindow(ap).UTC().Format(time.RFC3339))
		res.Reasons = []policy.Reason{{Rule: "approval", Message: msg, Enforcement: policy.Enforce}}
		res.Approval = approvalRef(ap)
	case pr.pending != nil:
		res.Approval = approvalRef(pr.pending)
	}
	return nil
}

// usedWarning tells the submitter which approval admitted the change.
func usedWarning(ap *store.Approval) policy.Reason {
	at := ""
	if ap.ResolvedAt != nil {
		at = " at " + ap.ResolvedAt.UTC().Format(time.RFC3339)
	}
	return policy.Reason{Rule: "approval", Enforcement: policy.Warn,
		Message: fmt.Sprintf("approved by %s%s (approval %s); this approval admits this one submission", ap.ResolvedBy, at, ap.ID)}
}

func approvalRef(ap *store.Approval) *ApprovalRef {
	return &ApprovalRef{ID: ap.ID, Approvers: ap.Approvers, ExpiresAt: ap.ExpiresAt, Reason: ap.Reason}
}
