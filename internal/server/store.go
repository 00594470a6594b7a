package server

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Store is the part of the store the API reads directly (everything it
// changes goes through the services).
// store.Store implements it; tests may give less.
type Store interface {
	Ping(ctx context.Context) error
	Unavailable(err error) bool
	GetAgent(ctx context.Context, id string) (agents.Agent, error)
	GetApproval(ctx context.Context, id string) (store.Approval, error)
	ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error)
	ListDeployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error)
	MatchKillSwitch(ctx context.Context, agentID, owner string) (store.KillSwitch, error)
	QuotaUsage(ctx context.Context, agentID string, now time.Time) ([]store.QuotaUsage, error)
	QueryAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error)
	ScanAudit(ctx context.Context, afterSeq int64, fn func(audit.Stored) error) error
	AuditHead(ctx context.Context) (int64, error)
	CountAudit(ctx context.Context, q store.AuditCountQuery) ([]store.AuditCount, error)
	SumCosts(ctx context.Context, by store.CostGroup, from, to time.Time) ([]store.CostRow, error)
	ListProposals(ctx context.Context, f store.ProposalFilter) ([]store.Proposal, error)
	ScanInputs(ctx context.Context, from, to time.Time, afterSeq int64, fn func(seq int64, at time.Time, body []byte) error) error
}

var _ Store = store.Store(nil)
