package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// PutToken stores a token hash. ErrConflict if the hash exists.
func (x *queries) PutToken(ctx context.Context, t store.Token) error {
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO tokens (hash, agent_id, created_at_us, expires_at_us)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			t.Hash, t.AgentID, micros(t.CreatedAt), nullMicros(t.ExpiresAt))
		if err != nil {
			return fmt.Errorf("sqlstore: put token: %w", err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("token hash exists: %w", store.ErrConflict)
		}
		return nil
	})
}

// ExpireTokens sets the expiry of the agent's tokens that have none, or a
// later one, to at.
func (x *queries) ExpireTokens(ctx context.Context, agentID string, at time.Time) error {
	return x.write(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `UPDATE tokens SET expires_at_us = $2
			WHERE agent_id = $1 AND (expires_at_us IS NULL OR expires_at_us > $2)`, agentID, micros(at)); err != nil {
			return fmt.Errorf("sqlstore: expire tokens of %q: %w", agentID, err)
		}
		return nil
	})
}

// TokenByHash returns the token with that hash, or ErrNotFound.
func (x *queries) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t := store.Token{Hash: hash}
	var created int64
	var expires sql.NullInt64
	err := x.conn().QueryRowContext(ctx, `SELECT agent_id, created_at_us, expires_at_us FROM tokens WHERE hash = $1`, hash).
		Scan(&t.AgentID, &created, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Token{}, fmt.Errorf("token: %w", store.ErrNotFound)
	case err != nil:
		return store.Token{}, fmt.Errorf("sqlstore: get token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(created), timePtr(expires)
	return t, nil
}
