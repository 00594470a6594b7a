package approval

import (
	"context"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Store is the part of the store the approval service reads and
// resolves held changes in.
// store.Store implements it; tests may give less.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context, q store.Queries) error) error
	GetApproval(ctx context.Context, id string) (store.Approval, error)
	ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error)
	AppendAudit(ctx context.Context, r *audit.Record) error
}

var _ Store = store.Store(nil)
