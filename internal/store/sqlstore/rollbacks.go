package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// createRollbackTries bounds how often CreateRollback inserts again when
// the active rollback it collided with finished before it could be read.
const createRollbackTries = 3

// rollbackKey encodes a rollback key for the key column. Keys separate
// their parts with NUL bytes, which PostgreSQL text cannot hold; quoting is
// injective, so the unique index still means one active rollback per key.
func rollbackKey(key string) string { return strconv.Quote(key) }

// scanBody decodes the JSON body column of one row into a T.
func scanBody[T any](sc rowScanner, what string) (T, error) {
	var v T
	var body string
	if err := sc.Scan(&body); err != nil {
		return v, err
	}
	if err := decodeJSON(what, body, &v); err != nil {
		return v, err
	}
	return v, nil
}

// getBody reads the body of one row of table by id (with suffix, such as
// FOR UPDATE, appended), or ErrNotFound naming it as what.
func getBody[T any](ctx context.Context, q querier, table, what, id, suffix string) (T, error) {
	v, err := scanBody[T](q.QueryRowContext(ctx, `SELECT body FROM `+table+` WHERE id = $1`+suffix, id), what)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return v, fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
	case err != nil:
		return v, fmt.Errorf("sqlstore: get %s %q: %w", what, id, err)
	}
	return v, nil
}

// queryBodies runs a query selecting one body column and decodes each row.
func queryBodies[T any](ctx context.Context, q querier, what, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %ss: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scanBody[T](rows, what)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list %ss: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list %ss: %w", what, err)
	}
	return out, nil
}

// limitClause returns " LIMIT $n" binding limit as argument n, or "" (no
// limit) when limit is not positive.
func limitClause(limit int, args *[]any) string {
	if limit <= 0 {
		return ""
	}
	*args = append(*args, limit)
	return " LIMIT $" + strconv.Itoa(len(*args))
}

// CreateWatch stores a new watch. ErrConflict if the id exists or the
// deployment already has a live watch.
func (x *queries) CreateWatch(ctx context.Context, w store.Watch) error {
	if w.ID == "" {
		return apperr.Invalid("a watch needs an id")
	}
	body, err := encodeJSON("watch", w)
	if err != nil {
		return err
	}
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO rollback_watches (id, deployment_id, ended, next_at_us, body)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			w.ID, w.DeploymentID, boolInt(w.Ended), micros(w.NextAt), body)
		if err != nil {
			return fmt.Errorf("sqlstore: create watch %q: %w", w.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("watch %q or a live watch of deployment %q exists: %w", w.ID, w.DeploymentID, store.ErrConflict)
		}
		return nil
	})
}

// UpdateWatch replaces a stored watch. ErrNotFound if absent; ErrConflict
// if it would make a second live watch of its deployment.
func (x *queries) UpdateWatch(ctx context.Context, w store.Watch) error {
	body, err := encodeJSON("watch", w)
	if err != nil {
		return err
	}
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE rollback_watches SET deployment_id = $2, ended = $3, next_at_us = $4, body = $5
			WHERE id = $1`, w.ID, w.DeploymentID, boolInt(w.Ended), micros(w.NextAt), body)
		if err != nil {
			if x.s.dialect.IsUniqueViolation(err) {
				return fmt.Errorf("deployment %q already has a live watch: %w", w.DeploymentID, store.ErrConflict)
			}
			return fmt.Errorf("sqlstore: update watch %q: %w", w.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("watch %q: %w", w.ID, store.ErrNotFound)
		}
		return nil
	})
}

// GetWatch returns the watch or ErrNotFound.
func (x *queries) GetWatch(ctx context.Context, id string) (store.Watch, error) {
	return getBody[store.Watch](ctx, x.conn(), "rollback_watches", "watch", id, "")
}

// DueWatches returns up to limit live watches due at now, earliest first
// (all of them when limit is not positive).
func (x *queries) DueWatches(ctx context.Context, now time.Time, limit int) ([]store.Watch, error) {
	args := []any{micros(now)}
	query := `SELECT body FROM rollback_watches WHERE ended = 0 AND next_at_us <= $1 ORDER BY next_at_us, id` + limitClause(limit, &args)
	return queryBodies[store.Watch](ctx, x.conn(), "watch", query, args...)
}

// ListWatches returns up to limit watches (all when limit is not
// positive), live ones only when live is set, earliest next_at first.
func (x *queries) ListWatches(ctx context.Context, live bool, limit int) ([]store.Watch, error) {
	var args []any
	query := `SELECT body FROM rollback_watches`
	if live {
		query += ` WHERE ended = 0`
	}
	query += ` ORDER BY next_at_us, id` + limitClause(limit, &args)
	return queryBodies[store.Watch](ctx, x.conn(), "watch", query, args...)
}

// CreateRollback stores r unless an active rollback with the same key
// exists; then it returns that one and created false. ErrConflict if the
// id exists.
//
// The insert does nothing on any conflict rather than failing, so that it
// never aborts a caller's PostgreSQL transaction.
func (x *queries) CreateRollback(ctx context.Context, r store.Rollback) (stored store.Rollback, created bool, err error) {
	if r.ID == "" || r.Key == "" {
		return store.Rollback{}, false, apperr.Invalid("a rollback needs an id and a key")
	}
	body, err := encodeJSON("rollback", r)
	if err != nil {
		return store.Rollback{}, false, err
	}
	err = x.atomic(ctx, false, func(q *queries) error {
		if !r.State.Active() {
			// The unique index does not cover r: look for the active one first.
			active, ok, err := activeRollback(ctx, q.conn(), r.Key)
			if err != nil || ok {
				stored = active
				return err
			}
		}
		for range createRollbackTries {
			res, err := q.conn().ExecContext(ctx, `INSERT INTO rollbacks (id, key, state, created_at_us, body)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
				r.ID, rollbackKey(r.Key), string(r.State), micros(r.CreatedAt), body)
			if err != nil {
				return fmt.Errorf("sqlstore: create rollback %q: %w", r.ID, err)
			}
			if n, err := affected(res); err != nil {
				return err
			} else if n == 1 {
				stored, created = r, true
				return nil
			}
			var one int
			err = q.conn().QueryRowContext(ctx, `SELECT 1 FROM rollbacks WHERE id = $1`, r.ID).Scan(&one)
			switch {
			case err == nil:
				return fmt.Errorf("rollback %q exists: %w", r.ID, store.ErrConflict)
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlstore: create rollback %q: %w", r.ID, err)
			}
			active, ok, err := activeRollback(ctx, q.conn(), r.Key)
			if err != nil || ok {
				stored = active
				return err
			}
			// The active one finished meanwhile: insert again.
		}
		return fmt.Errorf("sqlstore: create rollback %q: the active rollback of its key kept changing", r.ID)
	})
	if err != nil {
		return store.Rollback{}, false, err
	}
	return stored, created, nil
}

// activeRollback returns the active (pending or running) rollback of key;
// ok is false when there is none.
func activeRollback(ctx context.Context, q querier, key string) (r store.Rollback, ok bool, err error) {
	r, err = scanBody[store.Rollback](q.QueryRowContext(ctx,
		`SELECT body FROM rollbacks WHERE key = $1 AND state IN ('pending', 'running')`, rollbackKey(key)), "rollback")
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Rollback{}, false, nil
	case err != nil:
		return store.Rollback{}, false, fmt.Errorf("sqlstore: active rollback of %q: %w", key, err)
	}
	return r, true, nil
}

// GetRollback returns the rollback or ErrNotFound.
func (x *queries) GetRollback(ctx context.Context, id string) (store.Rollback, error) {
	return getRollback(ctx, x.conn(), id, "")
}

// getRollback reads one rollback, with suffix (FOR UPDATE) appended to
// the query.
func getRollback(ctx context.Context, q querier, id, suffix string) (store.Rollback, error) {
	return getBody[store.Rollback](ctx, q, "rollbacks", "rollback", id, suffix)
}

// ClaimRollback moves a pending rollback to running (compare-and-set) and
// returns it; claimed is false, with the stored rollback, when it was not
// pending. ErrNotFound if absent.
func (x *queries) ClaimRollback(ctx context.Context, id string, at time.Time) (r store.Rollback, claimed bool, err error) {
	err = x.atomic(ctx, false, func(q *queries) error {
		cur, err := getRollback(ctx, q.conn(), id, q.s.dialect.ForUpdate)
		if err != nil {
			return err
		}
		if cur.State != store.RollbackPending {
			r = cur
			return nil
		}
		cur.State, cur.UpdatedAt = store.RollbackRunning, at
		body, err := encodeJSON("rollback", cur)
		if err != nil {
			return err
		}
		res, err := q.conn().ExecContext(ctx, `UPDATE rollbacks SET state = $2, body = $3 WHERE id = $1 AND state = 'pending'`,
			id, string(store.RollbackRunning), body)
		if err != nil {
			return fmt.Errorf("sqlstore: claim rollback %q: %w", id, err)
		}
		n, err := affected(res)
		if err != nil {
			return err
		}
		if n == 0 { // not reachable with the row locked; be safe anyway
			r, err = getRollback(ctx, q.conn(), id, "")
			return err
		}
		r, claimed = cur, true
		return nil
	})
	if err != nil {
		return store.Rollback{}, false, err
	}
	return r, claimed, nil
}

// UpdateRollback replaces a stored rollback. ErrNotFound if absent;
// ErrConflict if it would make a second active rollback of its key.
func (x *queries) UpdateRollback(ctx context.Context, r store.Rollback) error {
	body, err := encodeJSON("rollback", r)
	if err != nil {
		return err
	}
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE rollbacks SET key = $2, state = $3, created_at_us = $4, body = $5 WHERE id = $1`,
			r.ID, rollbackKey(r.Key), string(r.State), micros(r.CreatedAt), body)
		if err != nil {
			if x.s.dialect.IsUniqueViolation(err) {
				return fmt.Errorf("another rollback of %q is active: %w", r.Key, store.ErrConflict)
			}
			return fmt.Errorf("sqlstore: update rollback %q: %w", r.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("rollback %q: %w", r.ID, store.ErrNotFound)
		}
		return nil
	})
}

// PendingRollbacks returns up to limit pending rollbacks, oldest first
// (all of them when limit is not positive).
func (x *queries) PendingRollbacks(ctx context.Context, limit int) ([]store.Rollback, error) {
	var args []any
	query := `SELECT body FROM rollbacks WHERE state = 'pending' ORDER BY created_at_us, id` + limitClause(limit, &args)
	return queryBodies[store.Rollback](ctx, x.conn(), "rollback", query, args...)
}

// ListRollbacks returns up to limit rollbacks, newest first (all of them
// when limit is not positive).
func (x *queries) ListRollbacks(ctx context.Context, limit int) ([]store.Rollback, error) {
	var args []any
	query := `SELECT body FROM rollbacks ORDER BY created_at_us DESC, id DESC` + limitClause(limit, &args)
	return queryBodies[store.Rollback](ctx, x.conn(), "rollback", query, args...)
}
