package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
)

// AcquireLeader takes or renews the named lease for holder until now+ttl if
// it is free, expired or already held by holder.
func (x *queries) AcquireLeader(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, apperr.Invalid("leader lease needs a holder and a positive TTL")
	}
	var acquired bool
	err := x.write(ctx, func(q querier) error {
		var got string
		err := q.QueryRowContext(ctx, `INSERT INTO leader_leases (name, holder, expires_at_us) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_us = excluded.expires_at_us
			WHERE leader_leases.expires_at_us <= $4 OR leader_leases.holder = excluded.holder
			RETURNING holder`, name, holder, micros(now.Add(ttl)), micros(now)).Scan(&got)
		switch {
		case err == nil:
			acquired = true
		case errors.Is(err, sql.ErrNoRows):
			acquired = false
		default:
			return fmt.Errorf("sqlstore: acquire leader lease %q: %w", name, err)
		}
		return nil
	})
	return acquired, err
}

// ReleaseLeader gives the named lease up if holder has it.
func (x *queries) ReleaseLeader(ctx context.Context, name, holder string) error {
	return x.write(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM leader_leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
			return fmt.Errorf("sqlstore: release leader lease %q: %w", name, err)
		}
		return nil
	})
}
