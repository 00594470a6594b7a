package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Pipelining.
//
// Inside a transaction every statement is a round trip, and on PostgreSQL
// a round trip costs more than most of the statements it carries: on a
// network the wait, on loopback the system calls and wake-ups of both
// processes. Where the dialect can pipeline (Dialect.Pipeline), a
// transaction sends statements that do not need each other's answers
// together:
//
//   - pipe sends a group of statements whose results are read together
//     (the quota lock with the quota reads, the audit chain's lock with
//     its head);
//   - later keeps a write whose caller does not need its result before
//     the transaction commits (the quota charge, a decision's record)
//     until the next statement of the transaction, which then carries it,
//     and reads its result then (a write whose result is read goes before
//     the COMMIT, not with it: its Read may refuse it). Whatever runs next
//     (pipe, or any statement through conn, a savepoint, the commit) sends
//     the pending writes first, so every statement still runs after the
//     writes before it, in order.
//
// A pending write that fails fails the statement that carried it and
// leaves the transaction broken: it never commits (inTx), so a write whose
// caller was told it was accepted cannot be lost while the transaction
// commits the rest. A commit that fails on a write it carried says so
// with errBroken. Without Dialect.Pipeline (SQLite, whose statements are
// calls in the same process) both run each statement at once.

// Rows is what a pipelined statement's reader reads: *sql.Rows and the
// driver's own rows both have it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// PipeStmt is one statement of a pipeline.
type PipeStmt struct {
	// What names the statement in its error ("store quotas of a1").
	What  string
	Query string
	Args  []any
	// Read reads the statement's rows; nil for a statement whose result
	// is only its success.
	Read func(Rows) error
	// Tag, for a statement without Read, checks its command tag
	// ("COMMIT"); pipelined statements only.
	Tag func(tag string) error
}

// errBroken is returned at commit when a pending write failed on its way.
var errBroken = errors.New("sqlstore: a write of this transaction failed; it was rolled back")

// pipelined reports whether x's statements can share round trips: in a
// transaction, on a dialect that pipelines.
func (x *queries) pipelined() bool { return x.raw != nil }

// pipe runs the pending writes and then stmts: in one round trip where
// pipelined, otherwise one after the other.
func (x *queries) pipe(ctx context.Context, stmts ...PipeStmt) error {
	if !x.pipelined() {
		for _, st := range stmts {
			if err := x.runStmt(ctx, st); err != nil {
				return err
			}
		}
		return nil
	}
	all := stmts
	carried := len(x.st.pending)
	x.st.sent = true
	if carried > 0 {
		all = append(x.st.pending, stmts...)
		x.st.pending = nil
	}
	failed := -1
	err := x.raw.Raw(func(conn any) error {
		var err error
		failed, err = x.s.dialect.Pipeline(ctx, conn, all)
		if err != nil && failed >= 0 && failed < len(all) {
			return stmtError(all[failed], err)
		}
		return err
	})
	if err != nil && carried > 0 {
		// A write whose caller went on as if it held may have failed, or
		// not been sent at all: the transaction must not commit.
		x.st.broken = err
		x.st.carriedFailed = failed >= 0 && failed < carried
	}
	return err
}

// runStmt runs one statement on its own.
func (x *queries) runStmt(ctx context.Context, st PipeStmt) error {
	if st.Read == nil {
		if _, err := x.conn().ExecContext(ctx, st.Query, st.Args...); err != nil {
			return stmtError(st, err)
		}
		return nil
	}
	rows, err := x.conn().QueryContext(ctx, st.Query, st.Args...)
	if err != nil {
		return stmtError(st, err)
	}
	defer rows.Close()
	if err := st.Read(rows); err != nil {
		return stmtError(st, err)
	}
	if err := rows.Err(); err != nil {
		return stmtError(st, err)
	}
	return nil
}

// stmtError names the statement in err.
func stmtError(st PipeStmt, err error) error {
	if st.What == "" {
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", st.What, err)
}

// execLater runs a write whose only result is its success (later).
func (x *queries) execLater(ctx context.Context, what, query string, args ...any) error {
	return x.later(ctx, PipeStmt{What: what, Query: query, Args: args})
}

// later runs a write whose result its caller does not need before the
// transaction commits. Pipelined, it is sent with the transaction's next
// statement and st.Read reads its result then; a failure (of the write or
// of its Read) fails that statement and the transaction. One with a Read
// is sent before the COMMIT, not with it, since the server commits
// whatever its Read would refuse. Otherwise it runs now.
func (x *queries) later(ctx context.Context, st PipeStmt) error {
	if !x.pipelined() {
		return x.runStmt(ctx, st)
	}
	x.st.pending = append(x.st.pending, st)
	return nil
}

// flush sends the pending writes, if any.
func (x *queries) flush(ctx context.Context) error {
	if x.st == nil || len(x.st.pending) == 0 {
		return nil
	}
	return x.pipe(ctx)
}

// flushFirst is a querier that sends the transaction's pending writes
// before its statement.
type flushFirst struct {
	x *queries
	q querier
}

var _ querier = flushFirst{}

func (f flushFirst) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := f.x.flush(ctx); err != nil {
		return nil, err
	}
	return f.q.ExecContext(ctx, query, args...)
}

func (f flushFirst) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := f.x.flush(ctx); err != nil {
		return nil, err
	}
	return f.q.QueryContext(ctx, query, args...)
}

func (f flushFirst) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := f.x.flush(ctx); err != nil {
		// A *sql.Row cannot carry this error: the query runs on a context
		// that has ended, so it fails without reaching the connection,
		// and the transaction, broken by the flush, reports the cause.
		ended, cancel := context.WithCancel(ctx)
		cancel()
		return f.q.QueryRowContext(ended, query, args...)
	}
	return f.q.QueryRowContext(ctx, query, args...)
}

// scanOne scans the only row of rows into dest; no row is sql.ErrNoRows.
func scanOne(rows Rows, dest ...any) error {
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return rows.Scan(dest...)
}
