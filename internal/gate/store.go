package gate

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Store is the part of the store the gate decides in: one transaction
// per decision (shared with concurrent decisions: group commit), and the
// reads of its dry runs and anomaly checks. store.Store implements it;
// tests may give less.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context, q store.Queries) error) error
	InSharedTx(ctx context.Context, fn func(ctx context.Context, q store.Queries) error) error
	Unavailable(err error) bool
	AppendAudit(ctx context.Context, r *audit.Record) error
	MatchKillSwitch(ctx context.Context, agentID, owner string) (store.KillSwitch, error)
	QuotaUsage(ctx context.Context, agentID string, now time.Time) ([]store.QuotaUsage, error)
	Leases(ctx context.Context, f store.LeaseFilter, now time.Time) ([]store.Lease, error)
}

var _ Store = store.Store(nil)
