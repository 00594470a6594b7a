package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/quota"
	"github.com/agentgate/agentgate/internal/store"
)

// ChargeQuotas charges every quota or none, serialised against every other
// charge of the agent. When the charge is refused, each result's Allowed
// says whether that quota alone had room and Used is the usage that stands
// (nothing was charged).
func (x *queries) ChargeQuotas(ctx context.Context, agentID string, charges []store.QuotaCharge, now time.Time) ([]store.QuotaResult, bool, error) {
	for _, c := range charges {
		switch {
		case c.Name == "":
			return nil, false, apperr.Invalid("quota charge has no name")
		case c.Concurrency && c.TTL <= 0:
			return nil, false, apperr.Invalid("concurrency quota %q needs a positive lease TTL", c.Name)
		case !c.Concurrency && c.Window <= 0:
			return nil, false, apperr.Invalid("rate quota %q needs a positive window", c.Name)
		}
	}
	if len(charges) == 0 {
		return []store.QuotaResult{}, true, nil
	}
	var results []store.QuotaResult
	var ok bool
	err := x.atomic(ctx, false, func(q *queries) error {
		st, err := q.loadQuotaState(ctx, agentID, charges, now)
		if err != nil {
			return err
		}
		var w quotaWrites
		results, ok, w = evaluateCharges(charges, st, now)
		if !ok {
			return nil
		}
		return q.writeQuotas(ctx, agentID, w, st.expired, now)
	})
	if err != nil {
		return nil, false, err
	}
	return results, ok, nil
}

// loadQuotaState locks the agent's quotas and reads their state. The lock
// and the reads share a round trip where the dialect pipelines: each
// statement still starts after the one before it has finished, so under
// READ COMMITTED the reads see every charge committed before the lock was
// granted (one statement for the lock and the reads would not: its
// snapshot is taken before it waits).
func (x *queries) loadQuotaState(ctx context.Context, agentID string, charges []store.QuotaCharge, now time.Time) (quotaState, error) {
	leases := false
	for _, c := range charges {
		leases = leases || c.Concurrency
	}
	if st, ok, err := x.prefetched(ctx, agentID, now); err != nil || ok {
		return st, err
	}
	for range 2 {
		st := quotaState{tats: map[string]time.Time{}, leases: map[string]map[string]time.Time{}}
		// Where write transactions exclude each other (SQLite) there is
		// no lock to take.
		locked := x.s.dialect.ForUpdate == ""
		stmts := make([]PipeStmt, 0, 3)
		if !locked {
			stmts = append(stmts, x.lockQuotas(agentID, &locked))
		}
		stmts = append(stmts, readRates(agentID, st.readRates))
		if leases {
			stmts = append(stmts, readLeases(agentID, func(rows Rows) error { return st.readLeases(rows, now) }))
		}
		if err := x.pipe(ctx, stmts...); err != nil {
			return quotaState{}, err
		}
		if locked {
			return st, nil
		}
		// The agent's first charge: its lock row is created, then taken
		// and the quotas read again, since they were read unlocked.
		if _, err := x.conn().ExecContext(ctx, `INSERT INTO quota_locks (agent_id) VALUES ($1) ON CONFLICT DO NOTHING`, agentID); err != nil {
			return quotaState{}, fmt.Errorf("sqlstore: create quota lock of %q: %w", agentID, err)
		}
	}
	return quotaState{}, fmt.Errorf("sqlstore: quota lock row of %q vanished", agentID)
}

// lockQuotas takes the agent's quota lock row FOR UPDATE; locked says
// whether it was there.
func (x *queries) lockQuotas(agentID string, locked *bool) PipeStmt {
	return PipeStmt{
		What:  fmt.Sprintf("lock quotas of %q", agentID),
		Query: `SELECT agent_id FROM quota_locks WHERE agent_id = $1` + x.s.dialect.ForUpdate,
		Args:  []any{agentID},
		Read:  func(rows Rows) error { *locked = rows.Next(); return nil },
	}
}

// readRates reads the agent's rate quotas (name, tat_ns) with read.
func readRates(agentID string, read func(Rows) error) PipeStmt {
	return PipeStmt{
		What:  fmt.Sprintf("read quotas of %q", agentID),
		Query: `SELECT name, tat_ns FROM quotas WHERE agent_id = $1 AND concurrency = 0`,
		Args:  []any{agentID},
		Read:  read,
	}
}

// readLeases reads the agent's leases (name, key, expires_at_us) with read.
func readLeases(agentID string, read func(Rows) error) PipeStmt {
	return PipeStmt{
		What:  fmt.Sprintf("read leases of %q", agentID),
		Query: `SELECT name, key, expires_at_us FROM quota_leases WHERE agent_id = $1`,
		Args:  []any{agentID},
		Read:  read,
	}
}

// readRates reads the rate quotas' theoretical arrival times into st.
func (st *quotaState) readRates(rows Rows) error {
	for rows.Next() {
		var name string
		var tat int64
		if err := rows.Scan(&name, &tat); err != nil {
			return err
		}
		st.tats[name] = time.Unix(0, tat).UTC()
	}
	return nil
}

// readLeases reads the agent's leases into st: unexpired ones by name and
// key, and whether any expired ones are left to clean up.
func (st *quotaState) readLeases(rows Rows, now time.Time) error {
	for rows.Next() {
		var name, key string
		var exp int64
		if err := rows.Scan(&name, &key, &exp); err != nil {
			return err
		}
		st.addLease(name, key, fromMicros(exp), now)
	}
	return nil
}

// addLease adds an unexpired lease to st, or notes an expired one.
func (st *quotaState) addLease(name, key string, expires, now time.Time) {
	if !expires.After(now) {
		st.expired = true
		return
	}
	if st.leases[name] == nil {
		st.leases[name] = map[string]time.Time{}
	}
	st.leases[name][key] = expires
}

// writeQuotas stores an accepted charge.
func (x *queries) writeQuotas(ctx context.Context, agentID string, w quotaWrites, expired bool, now time.Time) error {
	if expired {
		if err := x.execLater(ctx, fmt.Sprintf("purge leases of %q", agentID),
			`DELETE FROM quota_leases WHERE agent_id = $1 AND expires_at_us <= $2`, agentID, micros(now)); err != nil {
			return err
		}
	}
	if len(w.quotas) > 0 {
		query := `INSERT INTO quotas (agent_id, name, concurrency, lim, window_us, tat_ns) VALUES `
		args := make([]any, 0, 6*len(w.quotas))
		for i, q := range w.quotas {
			if i > 0 {
				query += ", "
			}
			query += placeholders(len(args)+1, 6)
			args = append(args, agentID, q.name, boolInt(q.concurrency), q.limit, q.window.Microseconds(), q.tatNanos)
		}
		query += ` ON CONFLICT (agent_id, name) DO UPDATE SET concurrency = excluded.concurrency, lim = excluded.lim,
			window_us = excluded.window_us, tat_ns = excluded.tat_ns`
		if err := x.execLater(ctx, fmt.Sprintf("store quotas of %q", agentID), query, args...); err != nil {
			return err
		}
	}
	if len(w.leases) > 0 {
		query := `INSERT INTO quota_leases (agent_id, name, key, expires_at_us) VALUES `
		args := make([]any, 0, 4*len(w.leases))
		for i, l := range w.leases {
			if i > 0 {
				query += ", "
			}
			query += placeholders(len(args)+1, 4)
			args = append(args, agentID, l.name, l.key, micros(l.expires))
		}
		query += ` ON CONFLICT (agent_id, name, key) DO UPDATE SET expires_at_us = excluded.expires_at_us`
		if err := x.execLater(ctx, fmt.Sprintf("store leases of %q", agentID), query, args...); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseLease releases the agent's lease on (name, key).
func (x *queries) ReleaseLease(ctx context.Context, agentID, name, key string) (bool, error) {
	if x.st != nil {
		x.st.prefetch = nil // what it read may change
	}
	var n int64
	err := x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM quota_leases WHERE agent_id = $1 AND name = $2 AND key = $3`, agentID, name, key)
		if err != nil {
			return fmt.Errorf("sqlstore: release lease %q/%q of %q: %w", name, key, agentID, err)
		}
		n, err = affected(res)
		return err
	})
	return n > 0, err
}

// Leases returns the unexpired leases matching f, by key and agent.
func (x *queries) Leases(ctx context.Context, f store.LeaseFilter, now time.Time) ([]store.Lease, error) {
	if f.Name == "" {
		return nil, apperr.Invalid("a lease query needs a quota name")
	}
	query := `SELECT agent_id, key, expires_at_us FROM quota_leases WHERE name = $1 AND expires_at_us > $2`
	args := []any{f.Name, micros(now)}
	if f.Key != "" {
		query += ` AND key = $3`
		args = append(args, f.Key)
	}
	rows, err := x.conn().QueryContext(ctx, query+` ORDER BY key, agent_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: leases of %q: %w", f.Name, err)
	}
	defer rows.Close()
	out := []store.Lease{}
	for rows.Next() {
		l := store.Lease{Name: f.Name}
		var us int64
		if err := rows.Scan(&l.AgentID, &l.Key, &us); err != nil {
			return nil, fmt.Errorf("sqlstore: leases of %q: %w", f.Name, err)
		}
		l.ExpiresAt = fromMicros(us)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: leases of %q: %w", f.Name, err)
	}
	return out, nil
}

// QuotaUsage returns the agent's use of every quota it was charged, by name.
func (x *queries) QuotaUsage(ctx context.Context, agentID string, now time.Time) ([]store.QuotaUsage, error) {
	// One statement: a concurrency quota's leases are counted beside it.
	rows, err := x.conn().QueryContext(ctx, `SELECT q.name, q.concurrency, q.lim, q.window_us, q.tat_ns,
		CASE WHEN q.concurrency <> 0 THEN (SELECT COUNT(*) FROM quota_leases l
			WHERE l.agent_id = q.agent_id AND l.name = q.name AND l.expires_at_us > $2) ELSE 0 END
		FROM quotas q WHERE q.agent_id = $1 ORDER BY q.name`, agentID, micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: quota usage of %q: %w", agentID, err)
	}
	defer rows.Close()
	out := []store.QuotaUsage{}
	for rows.Next() {
		var u store.QuotaUsage
		var concurrency, windowUs, tat, leases int64
		if err := rows.Scan(&u.Name, &concurrency, &u.Limit, &windowUs, &tat, &leases); err != nil {
			return nil, fmt.Errorf("sqlstore: quota usage of %q: %w", agentID, err)
		}
		u.Concurrency = concurrency != 0
		if u.Concurrency {
			u.Used = leases
		} else {
			u.Window = time.Duration(windowUs) * time.Microsecond
			u.Used = quota.Used(quota.Rate{Limit: u.Limit, Window: u.Window}, time.Unix(0, tat), now)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: quota usage of %q: %w", agentID, err)
	}
	return out, nil
}
