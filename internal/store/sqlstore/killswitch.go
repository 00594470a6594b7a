package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

const killColumns = `id, scope, target, reason, source, engaged_by, engaged_at_us, released_by, released_at_us`

func scanKill(sc rowScanner) (store.KillSwitch, error) {
	var k store.KillSwitch
	var scope string
	var engaged int64
	var released sql.NullInt64
	if err := sc.Scan(&k.ID, &scope, &k.Target, &k.Reason, &k.Source, &k.EngagedBy, &engaged, &k.ReleasedBy, &released); err != nil {
		return store.KillSwitch{}, err
	}
	k.Scope, k.EngagedAt, k.ReleasedAt = store.KillScope(scope), fromMicros(engaged), timePtr(released)
	return k, nil
}

// EngageKillSwitch stores k as engaged (an empty ID gets a new one). If an
// active switch with the same scope and target exists it is returned with
// created false.
func (x *queries) EngageKillSwitch(ctx context.Context, k store.KillSwitch) (store.KillSwitch, bool, error) {
	switch k.Scope {
	case store.ScopeGlobal:
		if k.Target != "" {
			return store.KillSwitch{}, false, apperr.Invalid("a global kill switch has no target")
		}
	case store.ScopeOwner, store.ScopeAgent:
		if k.Target == "" {
			return store.KillSwitch{}, false, apperr.Invalid("a %s kill switch needs a target", k.Scope)
		}
	default:
		return store.KillSwitch{}, false, apperr.Invalid("kill switch scope %q is not one of agent, owner, global", k.Scope)
	}
	if k.ID == "" {
		k.ID = uuid.NewString()
	}
	k.EngagedAt = fromMicros(micros(k.EngagedAt))
	k.ReleasedBy, k.ReleasedAt = "", nil
	var stored store.KillSwitch
	var created bool
	defer x.registryChanged()
	err := x.write(ctx, func(q querier) error {
		// An active switch that is released between the insert and the
		// read makes the read miss; then the insert is tried again.
		for range 3 {
			var err error
			stored, created, err = engageOnce(ctx, q, k)
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return fmt.Errorf("sqlstore: engage kill switch: active switch for %s %q keeps changing", k.Scope, k.Target)
	})
	return stored, created, err
}

// engageOnce inserts k unless an active switch holds its scope and target,
// which it then returns. sql.ErrNoRows means neither happened: try again.
func engageOnce(ctx context.Context, q querier, k store.KillSwitch) (store.KillSwitch, bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO kill_switches (`+killColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, '', NULL) ON CONFLICT DO NOTHING`,
		k.ID, string(k.Scope), k.Target, k.Reason, k.Source, k.EngagedBy, micros(k.EngagedAt))
	if err != nil {
		return store.KillSwitch{}, false, fmt.Errorf("sqlstore: engage kill switch: %w", err)
	}
	n, err := affected(res)
	if err != nil {
		return store.KillSwitch{}, false, err
	}
	if n == 1 {
		return k, true, nil
	}
	// Either an active switch holds (scope, target) or the id is taken.
	stored, err := scanKill(q.QueryRowContext(ctx, `SELECT `+killColumns+` FROM kill_switches
		WHERE scope = $1 AND target = $2 AND released_at_us IS NULL`, string(k.Scope), k.Target))
	if err == nil {
		return stored, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.KillSwitch{}, false, fmt.Errorf("sqlstore: engage kill switch: %w", err)
	}
	var one int
	switch err := q.QueryRowContext(ctx, `SELECT 1 FROM kill_switches WHERE id = $1`, k.ID).Scan(&one); {
	case err == nil:
		return store.KillSwitch{}, false, fmt.Errorf("kill switch id %q exists: %w", k.ID, store.ErrConflict)
	case errors.Is(err, sql.ErrNoRows):
		return store.KillSwitch{}, false, sql.ErrNoRows
	default:
		return store.KillSwitch{}, false, fmt.Errorf("sqlstore: engage kill switch: %w", err)
	}
}

// ReleaseKillSwitch releases an active switch; ErrNotFound if there is none
// with that id, ErrConflict (with the stored switch) if it is already released.
func (x *queries) ReleaseKillSwitch(ctx context.Context, id, by string, at time.Time) (store.KillSwitch, error) {
	var n int64
	defer x.registryChanged()
	err := x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE kill_switches SET released_by = $2, released_at_us = $3
			WHERE id = $1 AND released_at_us IS NULL`, id, by, micros(at))
		if err != nil {
			return fmt.Errorf("sqlstore: release kill switch %q: %w", id, err)
		}
		n, err = affected(res)
		return err
	})
	if err != nil {
		return store.KillSwitch{}, err
	}
	k, err := x.GetKillSwitch(ctx, id)
	if err != nil {
		return store.KillSwitch{}, err
	}
	if n == 0 {
		return k, fmt.Errorf("kill switch %q is already released: %w", id, store.ErrConflict)
	}
	return k, nil
}

// GetKillSwitch returns the switch or ErrNotFound.
func (x *queries) GetKillSwitch(ctx context.Context, id string) (store.KillSwitch, error) {
	k, err := scanKill(x.conn().QueryRowContext(ctx, `SELECT `+killColumns+` FROM kill_switches WHERE id = $1`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.KillSwitch{}, fmt.Errorf("kill switch %q: %w", id, store.ErrNotFound)
	case err != nil:
		return store.KillSwitch{}, fmt.Errorf("sqlstore: get kill switch %q: %w", id, err)
	}
	return k, nil
}

// ListKillSwitches returns switches, newest first.
func (x *queries) ListKillSwitches(ctx context.Context, activeOnly bool) ([]store.KillSwitch, error) {
	query := `SELECT ` + killColumns + ` FROM kill_switches`
	if activeOnly {
		query += ` WHERE released_at_us IS NULL`
	}
	rows, err := x.conn().QueryContext(ctx, query+` ORDER BY engaged_at_us DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list kill switches: %w", err)
	}
	defer rows.Close()
	var out []store.KillSwitch
	for rows.Next() {
		k, err := scanKill(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list kill switches: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list kill switches: %w", err)
	}
	return out, nil
}

// MatchKillSwitch returns the active switch that stops the agent: global
// first, then its owner's, then its own; or ErrNotFound.
func (x *queries) MatchKillSwitch(ctx context.Context, agentID, owner string) (store.KillSwitch, error) {
	k, err := scanKill(x.conn().QueryRowContext(ctx, `SELECT `+killColumns+` FROM kill_switches
		WHERE released_at_us IS NULL AND (scope = 'global'
			OR (scope = 'owner' AND target = $2 AND target <> '')
			OR (scope = 'agent' AND target = $1 AND target <> ''))
		ORDER BY CASE scope WHEN 'global' THEN 0 WHEN 'owner' THEN 1 ELSE 2 END
		LIMIT 1`, agentID, owner))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.KillSwitch{}, fmt.Errorf("kill switch for agent %q: %w", agentID, store.ErrNotFound)
	case err != nil:
		return store.KillSwitch{}, fmt.Errorf("sqlstore: match kill switch: %w", err)
	}
	return k, nil
}
