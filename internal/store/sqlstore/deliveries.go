package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// ClaimDelivery records (d.Provider, d.ID) as being processed at
// d.CreatedAt. If an unexpired delivery with that key exists it is returned
// as prior and nothing is claimed; an expired one is replaced.
func (x *queries) ClaimDelivery(ctx context.Context, d store.Delivery) (*store.Delivery, error) {
	var prior *store.Delivery
	err := x.write(ctx, func(q querier) error {
		// A prior claim that expires or is purged between the insert and
		// the read makes the read miss; then the claim is tried again.
		for range 3 {
			var err error
			prior, err = x.claimOnce(ctx, q, d)
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return fmt.Errorf("sqlstore: claim delivery %s/%s: prior claim keeps changing", d.Provider, d.ID)
	})
	return prior, err
}

// claimDelivery inserts a claim, replacing an expired claim in its way and
// leaving an unexpired one alone.
const claimDelivery = `INSERT INTO deliveries (provider, id, result, created_at_us, expires_at_us)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (provider, id) DO UPDATE SET result = excluded.result,
		created_at_us = excluded.created_at_us, expires_at_us = excluded.expires_at_us
	WHERE deliveries.expires_at_us <= excluded.created_at_us`

// claimOnce claims d or returns the unexpired prior claim. sql.ErrNoRows
// means neither happened: try again. The claim is one statement
// (claimDelivery), then read as the prior claim when it was not made;
// where the transaction pipelines, the statement carries its pending
// writes and reads (a PrepareCharge).
func (x *queries) claimOnce(ctx context.Context, q querier, d store.Delivery) (*store.Delivery, error) {
	now := micros(d.CreatedAt)
	args := []any{d.Provider, d.ID, nullBytes(d.Result), now, micros(d.ExpiresAt)}
	var claimed bool
	if x.pipelined() {
		err := x.pipe(ctx, PipeStmt{
			What:  fmt.Sprintf("claim delivery %s/%s", d.Provider, d.ID),
			Query: claimDelivery + " RETURNING 1", Args: args,
			Read: func(rows Rows) error { claimed = rows.Next(); return nil },
		})
		if err != nil {
			return nil, err
		}
	} else {
		res, err := q.ExecContext(ctx, claimDelivery, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: claim delivery %s/%s: %w", d.Provider, d.ID, err)
		}
		n, err := affected(res)
		if err != nil {
			return nil, err
		}
		claimed = n == 1
	}
	if claimed {
		return nil, nil
	}
	prior := store.Delivery{Provider: d.Provider, ID: d.ID}
	var created, expires int64
	err := q.QueryRowContext(ctx, `SELECT result, created_at_us, expires_at_us FROM deliveries
		WHERE provider = $1 AND id = $2 AND expires_at_us > $3`, d.Provider, d.ID, now).
		Scan(&prior.Result, &created, &expires)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("sqlstore: read delivery %s/%s: %w", d.Provider, d.ID, err)
	}
	if len(prior.Result) == 0 {
		prior.Result = nil
	}
	prior.CreatedAt, prior.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &prior, nil
}

// nullBytes stores an empty body as NULL, so both backends read it back as nil.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// FinishDelivery stores the result of a claimed delivery; ErrNotFound if
// there is no such claim.
func (x *queries) FinishDelivery(ctx context.Context, provider, id string, result []byte) error {
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE deliveries SET result = $3 WHERE provider = $1 AND id = $2`,
			provider, id, nullBytes(result))
		if err != nil {
			return fmt.Errorf("sqlstore: finish delivery %s/%s: %w", provider, id, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("delivery %s/%s: %w", provider, id, store.ErrNotFound)
		}
		return nil
	})
}

// PurgeDeliveries deletes deliveries that expired before now.
func (x *queries) PurgeDeliveries(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM deliveries WHERE expires_at_us < $1`, micros(now))
		if err != nil {
			return fmt.Errorf("sqlstore: purge deliveries: %w", err)
		}
		n, err = affected(res)
		return err
	})
	return n, err
}

// DeliveryDone reports whether (provider, id) was processed to an answer
// that is still kept (finished and not expired at now).
func (x *queries) DeliveryDone(ctx context.Context, provider, id string, now time.Time) (bool, error) {
	var n int
	err := x.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries
		WHERE provider = $1 AND id = $2 AND expires_at_us > $3 AND result IS NOT NULL`, provider, id, micros(now)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlstore: delivery %s/%s: %w", provider, id, err)
	}
	return n > 0, nil
}
