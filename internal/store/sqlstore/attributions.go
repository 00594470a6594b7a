package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// PutAttribution stores a, replacing one for the same object.
func (x *queries) PutAttribution(ctx context.Context, a store.Attribution) error {
	return x.write(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO attributions (kind, namespace, name, agent_id, principal, created_at_us)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (kind, namespace, name) DO UPDATE SET agent_id = excluded.agent_id,
				principal = excluded.principal, created_at_us = excluded.created_at_us`,
			a.Kind, a.Namespace, a.Name, a.AgentID, a.Principal, micros(a.CreatedAt))
		if err != nil {
			return fmt.Errorf("sqlstore: put attribution %s/%s/%s: %w", a.Kind, a.Namespace, a.Name, err)
		}
		return nil
	})
}

// AttributionOf returns the attribution of an object, or ErrNotFound.
func (x *queries) AttributionOf(ctx context.Context, kind, namespace, name string) (store.Attribution, error) {
	a := store.Attribution{Kind: kind, Namespace: namespace, Name: name}
	var created int64
	err := x.conn().QueryRowContext(ctx, `SELECT agent_id, principal, created_at_us FROM attributions
		WHERE kind = $1 AND namespace = $2 AND name = $3`, kind, namespace, name).Scan(&a.AgentID, &a.Principal, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Attribution{}, fmt.Errorf("attribution of %s %s/%s: %w", kind, namespace, name, store.ErrNotFound)
	case err != nil:
		return store.Attribution{}, fmt.Errorf("sqlstore: attribution of %s %s/%s: %w", kind, namespace, name, err)
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

// PurgeAttributions deletes the attributions of kind recorded before the
// given time.
func (x *queries) PurgeAttributions(ctx context.Context, kind string, before time.Time) (int64, error) {
	var n int64
	err := x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM attributions WHERE kind = $1 AND created_at_us < $2`, kind, micros(before))
		if err != nil {
			return fmt.Errorf("sqlstore: purge attributions: %w", err)
		}
		n, err = affected(res)
		return err
	})
	return n, err
}
