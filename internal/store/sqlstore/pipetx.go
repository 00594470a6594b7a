package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Transactions on a dialect that pipelines.
//
// database/sql would begin a transaction with a round trip of its own. On
// a dialect that pipelines, the transaction is a connection of its own
// (sql.Conn) whose BEGIN (at Dialect.Isolation) waits, like a pending write, for the
// transaction's first statement, and whose COMMIT carries the writes
// still pending: a transaction costs one round trip less, and one that
// sent nothing costs one round trip in all.

// rollbackTimeout bounds the ROLLBACK of a failed transaction, which runs
// even when the caller's context has ended.
const rollbackTimeout = 5 * time.Second

// errCommitRolledBack is a COMMIT that the server answered with ROLLBACK:
// the transaction had failed.
var errCommitRolledBack = errors.New("sqlstore: the transaction had failed and was rolled back at commit")

// inPipelinedTx is inTx on a dialect that pipelines.
func (s *Store) inPipelinedTx(ctx context.Context, fn func(q *queries) error) (err error) {
	raw, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer raw.Close()
	st := &txState{pending: []PipeStmt{{What: "begin", Query: beginSQL(s.dialect.Isolation)}}}
	q := &queries{s: s, raw: raw, st: st}
	committed := false
	defer func() {
		if !committed && st.sent {
			s.rollbackRaw(ctx, q)
		}
	}()
	if err := fn(q); err != nil {
		if st.broken != nil && !errors.Is(err, st.broken) {
			// The statement failed for want of a write before it.
			return errors.Join(err, st.broken)
		}
		return err
	}
	if st.broken != nil {
		return fmt.Errorf("%w: %w", errBroken, st.broken)
	}
	if readsPending(st.pending) {
		// A pending write whose result is read may be refused by its Read,
		// which the server does not know of: it is sent and read before
		// the COMMIT is on its way.
		if err := q.pipe(ctx); err != nil {
			return err
		}
	}
	err = q.pipe(ctx, PipeStmt{Query: "COMMIT", Tag: func(tag string) error {
		if tag != "COMMIT" {
			return errCommitRolledBack
		}
		return nil
	}})
	if err != nil && st.carriedFailed {
		// A write the commit carried failed: the transaction rolled back.
		err = fmt.Errorf("%w: %w", errBroken, err)
	}
	if err := s.commitDone(st, err); err != nil {
		return err
	}
	committed = true
	return nil
}

// readsPending reports whether a pending write has a Read.
func readsPending(pending []PipeStmt) bool {
	for _, st := range pending {
		if st.Read != nil {
			return true
		}
	}
	return false
}

// rollbackRaw ends q's failed transaction. A connection that cannot say it
// did is closed rather than put back in the pool in the middle of a
// transaction.
func (s *Store) rollbackRaw(ctx context.Context, q *queries) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := q.raw.ExecContext(rctx, "ROLLBACK"); err != nil {
		_ = q.raw.Raw(func(any) error { return driver.ErrBadConn })
		s.log.WarnContext(ctx, "sqlstore: rollback failed; the connection is closed", "err", err)
	}
}

// beginSQL begins a transaction at level (the server's default for
// sql.LevelDefault): "BEGIN ISOLATION LEVEL READ COMMITTED".
func beginSQL(level sql.IsolationLevel) string {
	if level == sql.LevelDefault {
		return "BEGIN"
	}
	return "BEGIN ISOLATION LEVEL " + strings.ToUpper(level.String())
}
