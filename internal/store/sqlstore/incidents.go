package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// incidentTries bounds how often OpenIncident starts over when another
// writer changed the incident between its read and its write.
const incidentTries = 5

// OpenIncident records an automatic trigger of rollback r: it joins the
// open incident of r's deployment or opens a new one with r (see
// store.IncidentStore). The incident row is written first, with
// INSERT … ON CONFLICT DO NOTHING or a compare-and-set on its version, so
// that of two replicas given the same alert at once one opens the
// incident and the other joins it.
func (x *queries) OpenIncident(ctx context.Context, r store.Rollback, now time.Time, window time.Duration) (stored store.Rollback, inc store.Incident, created bool, err error) {
	fresh := store.NewIncident(r, now)
	err = x.atomic(ctx, true, func(q *queries) error {
		for range incidentTries {
			ok, err := q.insertIncident(ctx, fresh)
			if err != nil {
				return err
			}
			if ok {
				stored, created, inc, err = q.startIncident(ctx, r, fresh, 0)
				return err
			}
			cur, version, err := q.incident(ctx, fresh.Key, q.s.dialect.ForUpdate)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile: insert again
			}
			if err != nil {
				return err
			}
			if !cur.Open(now, window) {
				swapped, err := q.swapIncident(ctx, fresh, version)
				if err != nil {
					return err
				}
				if swapped {
					stored, created, inc, err = q.startIncident(ctx, r, fresh, version+1)
					return err
				}
				continue
			}
			cur.Join(now, r.Target.Source)
			swapped, err := q.swapIncident(ctx, cur, version)
			if err != nil {
				return err
			}
			if !swapped {
				continue
			}
			stored, err = getRollback(ctx, q.conn(), cur.RollbackID, "")
			if err != nil {
				return fmt.Errorf("incident %s: %w", cur, err)
			}
			inc = cur
			return nil
		}
		return fmt.Errorf("sqlstore: open incident %s: it kept changing", fresh)
	})
	if err != nil {
		return store.Rollback{}, store.Incident{}, false, err
	}
	return stored, inc, created, nil
}

// startIncident stores the rollback of an incident this writer just
// opened (at version) and points the incident at the rollback stored,
// which is another one when the target already had an active rollback.
func (x *queries) startIncident(ctx context.Context, r store.Rollback, inc store.Incident, version int64) (store.Rollback, bool, store.Incident, error) {
	stored, created, err := x.CreateRollback(ctx, r)
	if err != nil {
		return store.Rollback{}, false, store.Incident{}, err
	}
	if stored.ID != inc.RollbackID {
		inc.RollbackID = stored.ID
		ok, err := x.swapIncident(ctx, inc, version)
		if err != nil {
			return store.Rollback{}, false, store.Incident{}, err
		}
		if !ok {
			return store.Rollback{}, false, store.Incident{}, fmt.Errorf("sqlstore: incident %s changed while it was opened", inc)
		}
	}
	return stored, created, inc, nil
}

// insertIncident inserts a new incident at version 0; false when one with
// its key exists.
func (x *queries) insertIncident(ctx context.Context, inc store.Incident) (bool, error) {
	body, err := encodeJSON("incident", inc)
	if err != nil {
		return false, err
	}
	res, err := x.conn().ExecContext(ctx, `INSERT INTO rollback_incidents (key, target_key, firing, version, body)
		VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING`, rollbackKey(inc.Key), rollbackKey(inc.TargetKey), boolInt(inc.Firing), body)
	if err != nil {
		return false, fmt.Errorf("sqlstore: insert incident %s: %w", inc, err)
	}
	n, err := affected(res)
	return n == 1, err
}

// swapIncident replaces the incident if it is still at version; false
// when another writer changed it first.
func (x *queries) swapIncident(ctx context.Context, inc store.Incident, version int64) (bool, error) {
	body, err := encodeJSON("incident", inc)
	if err != nil {
		return false, err
	}
	res, err := x.conn().ExecContext(ctx, `UPDATE rollback_incidents SET target_key = $2, firing = $3, version = $4, body = $5
		WHERE key = $1 AND version = $6`,
		rollbackKey(inc.Key), rollbackKey(inc.TargetKey), boolInt(inc.Firing), version+1, body, version)
	if err != nil {
		return false, fmt.Errorf("sqlstore: update incident %s: %w", inc, err)
	}
	n, err := affected(res)
	return n == 1, err
}

// incident reads an incident and its version; suffix locks the row.
func (x *queries) incident(ctx context.Context, key, suffix string) (store.Incident, int64, error) {
	var body string
	var version int64
	err := x.conn().QueryRowContext(ctx, `SELECT version, body FROM rollback_incidents WHERE key = $1`+suffix, rollbackKey(key)).Scan(&version, &body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Incident{}, 0, fmt.Errorf("incident %q: %w", key, store.ErrNotFound)
	case err != nil:
		return store.Incident{}, 0, fmt.Errorf("sqlstore: get incident: %w", err)
	}
	var inc store.Incident
	if err := decodeJSON("incident", body, &inc); err != nil {
		return store.Incident{}, 0, err
	}
	return inc, version, nil
}

// GetIncident returns an incident by key or ErrNotFound.
func (x *queries) GetIncident(ctx context.Context, key string) (store.Incident, error) {
	inc, _, err := x.incident(ctx, key, "")
	return inc, err
}

// ResolveIncidents clears Firing of the target's firing incidents.
func (x *queries) ResolveIncidents(ctx context.Context, targetKey string, at time.Time) (int, error) {
	n := 0
	err := x.atomic(ctx, false, func(q *queries) error {
		rows, err := q.conn().QueryContext(ctx, `SELECT key FROM rollback_incidents WHERE target_key = $1 AND firing = 1`, rollbackKey(targetKey))
		if err != nil {
			return fmt.Errorf("sqlstore: firing incidents: %w", err)
		}
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: firing incidents: %w", err)
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlstore: firing incidents: %w", err)
		}
		for _, quoted := range keys {
			key, err := unquoteKey(quoted)
			if err != nil {
				return err
			}
			for range incidentTries {
				cur, version, err := q.incident(ctx, key, q.s.dialect.ForUpdate)
				if err != nil {
					return err
				}
				if !cur.Firing {
					break
				}
				cur.Resolve(at)
				ok, err := q.swapIncident(ctx, cur, version)
				if err != nil {
					return err
				}
				if ok {
					n++
					break
				}
			}
		}
		return nil
	})
	return n, err
}

// unquoteKey decodes a key column (see rollbackKey).
func unquoteKey(s string) (string, error) {
	k, err := strconv.Unquote(s)
	if err != nil {
		return "", fmt.Errorf("sqlstore: key column %q: %w", s, err)
	}
	return k, nil
}
