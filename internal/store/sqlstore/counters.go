package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
)

// IncrCounter adds one to key's counter for the fixed window containing now
// (windows are aligned to the unix epoch) and returns the new count.
func (x *queries) IncrCounter(ctx context.Context, key string, window time.Duration, now time.Time) (int64, error) {
	start, end, err := counterWindow(window, now)
	if err != nil {
		return 0, err
	}
	const incr = `INSERT INTO counters (key, window_start_us, window_end_us, n) VALUES ($1, $2, $3, 1)
			ON CONFLICT (key, window_start_us) DO UPDATE SET n = counters.n + 1
			RETURNING n`
	var n int64
	if x.pipelined() {
		// With the transaction's pending writes (a quota charge).
		err := x.pipe(ctx, PipeStmt{
			What: fmt.Sprintf("increment counter %q", key), Query: incr, Args: []any{key, start, end},
			Read: func(rows Rows) error { return scanOne(rows, &n) },
		})
		return n, err
	}
	err = x.write(ctx, func(q querier) error {
		if err := q.QueryRowContext(ctx, incr, key, start, end).Scan(&n); err != nil {
			return fmt.Errorf("sqlstore: increment counter %q: %w", key, err)
		}
		return nil
	})
	return n, err
}

// counterWindow returns the bounds, in unix microseconds, of the window of
// the given length containing now (windows are aligned to the epoch).
func counterWindow(window time.Duration, now time.Time) (start, end int64, err error) {
	winUs := window.Microseconds()
	if winUs <= 0 {
		return 0, 0, apperr.Invalid("counter window must be at least a microsecond")
	}
	nowUs := micros(now)
	start = nowUs - nowUs%winUs
	if nowUs%winUs < 0 {
		start -= winUs
	}
	return start, start + winUs, nil
}

// PurgeCounters deletes counters whose window ended before now.
func (x *queries) PurgeCounters(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM counters WHERE window_end_us < $1`, micros(now))
		if err != nil {
			return fmt.Errorf("sqlstore: purge counters: %w", err)
		}
		n, err = affected(res)
		return err
	})
	return n, err
}
