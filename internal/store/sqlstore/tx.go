package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// writerWait bounds how long a write waits for the single writer; it matches
// the SQLite busy timeout. Reaching it almost always means a write on the
// Store inside InTx instead of on the transaction's Queries.
const writerWait = 10 * time.Second

// savepoint names the savepoint that makes a multi-statement method atomic
// inside a caller's transaction.
const savepoint = "agentgate_sqlstore"

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries on the database (tx nil: autocommit) or
// on one transaction.
type queries struct {
	s *Store
	// tx is the transaction, on a dialect that does not pipeline.
	tx *sql.Tx
	// raw is the transaction's connection, on a dialect that pipelines:
	// its BEGIN and COMMIT are statements of its pipelines (pipetx.go).
	raw *sql.Conn
	// st is what the transaction has learnt so far: set exactly when the
	// queries are bound to a transaction (tx or raw).
	st *txState
}

// txState is what one transaction knows of its own writes, shared by the
// calls of a shared transaction, so that each does not ask again.
type txState struct {
	// auditLocked is set once the audit chain's lock is held (it is held
	// until the transaction ends).
	auditLocked bool
	// head is the chain head after this transaction's last append; nil
	// until the transaction appended (or after a savepoint was rolled back).
	head *auditHead
	// registry is set once the transaction changed agents, principals or
	// kill switches: the registry cache forgets its answers at commit.
	// (Kept across a rolled-back savepoint: forgetting too much is safe.)
	registry bool
	// pending are writes waiting for the transaction's next round trip
	// (later); broken is why one of them may not have been written.
	pending []PipeStmt
	broken  error
	// carriedFailed is set when broken is the failure of a pending write
	// (not of the statement that carried it).
	carriedFailed bool
	// sent is set once the transaction sent a statement (pipetx.go).
	sent bool
	// prefetch is PrepareCharge's read of an agent's quotas, for its next
	// charge.
	prefetch *quotaPrefetch
}

// auditHead is the last record of the audit chain: what the next append
// seals after.
type auditHead struct {
	seq      int64
	hash     string
	monoUs   int64
	lagMaxUs int64
}

// forget drops what a rolled-back savepoint may have undone.
func (st *txState) forget() {
	st.auditLocked, st.head, st.prefetch = false, nil, nil
}

// conn returns what statements run on: the transaction's connection (a
// dialect that pipelines), the transaction or the database, through the
// statement cache where the dialect uses one; the transaction's pending
// writes go first.
func (x *queries) conn() querier {
	q := x.s.querier(x.tx)
	if x.raw != nil {
		q = x.raw
	}
	if x.st != nil && len(x.st.pending) > 0 {
		return flushFirst{x: x, q: q}
	}
	return q
}

// txq is what the transaction's own statements (savepoints) run on.
func (x *queries) txq() querier {
	if x.raw != nil {
		return x.raw
	}
	return x.tx
}

func (s *Store) querier(tx *sql.Tx) querier {
	var base querier = s.db
	if tx != nil {
		base = tx
	}
	if s.stmts == nil {
		return base
	}
	return cachedQuerier{cache: s.stmts, tx: tx, base: base}
}

// InTx runs fn in one transaction, committing if it returns nil and rolling
// back otherwise (or if it panics).
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, q store.Queries) error) error {
	return s.inTx(ctx, func(q *queries) error { return fn(ctx, q) })
}

func (s *Store) inTx(ctx context.Context, fn func(q *queries) error) (err error) {
	release, err := s.acquireWriter(ctx)
	if err != nil {
		return err
	}
	defer release()
	if s.dialect.Pipeline != nil {
		return s.inPipelinedTx(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: s.dialect.Isolation})
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			s.log.WarnContext(ctx, "sqlstore: rollback failed", "err", rbErr)
		}
	}()
	st := &txState{}
	if err := fn(&queries{s: s, tx: tx, st: st}); err != nil {
		return err
	}
	if err := s.commitDone(st, tx.Commit()); err != nil {
		return err
	}
	committed = true
	return nil
}

// commitDone settles a transaction's commit, whose error is err: the
// registry cache forgets what the transaction changed, also when the
// commit failed (it may have committed anyway).
func (s *Store) commitDone(st *txState, err error) error {
	if st.registry {
		s.reg.changed()
	}
	if err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// atomic runs fn so that its statements take effect together: in a new
// transaction when x is not bound to one, otherwise in x's transaction,
// under a savepoint if withSavepoint is set, so that a failing fn undoes
// its own writes without aborting the caller's transaction (a PostgreSQL
// transaction is unusable after any error until rolled back to a savepoint).
// Methods that write only after every check passed need no savepoint.
func (x *queries) atomic(ctx context.Context, withSavepoint bool, fn func(q *queries) error) error {
	if x.st == nil {
		return x.s.inTx(ctx, fn)
	}
	if !withSavepoint {
		return fn(x)
	}
	// The writes before the savepoint are sent before it.
	if err := x.flush(ctx); err != nil {
		return err
	}
	if _, err := x.txq().ExecContext(ctx, "SAVEPOINT "+savepoint); err != nil {
		return fmt.Errorf("sqlstore: savepoint: %w", err)
	}
	err := fn(x)
	if err == nil {
		// fn's pending writes fail under its savepoint, not after it.
		err = x.flush(ctx)
	}
	if err != nil {
		// The savepoint's writes are undone, and on PostgreSQL a lock
		// taken under it is released: what the transaction knew of them
		// no longer holds. So are its pending writes, which were sent
		// before the savepoint began or are dropped here.
		x.st.forget()
		x.st.pending, x.st.broken, x.st.carriedFailed = nil, nil, false
		if _, rbErr := x.txq().ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); rbErr != nil {
			return errors.Join(err, fmt.Errorf("sqlstore: rollback to savepoint: %w", rbErr))
		}
		if _, relErr := x.txq().ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint); relErr != nil {
			return errors.Join(err, fmt.Errorf("sqlstore: release savepoint: %w", relErr))
		}
		return err
	}
	if _, err := x.txq().ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint); err != nil {
		return fmt.Errorf("sqlstore: release savepoint: %w", err)
	}
	return nil
}

// write runs fn, a write of a single statement: on the transaction, or on
// the database as the single writer where the backend has one.
func (x *queries) write(ctx context.Context, fn func(q querier) error) error {
	if x.st != nil {
		return fn(x.conn())
	}
	release, err := x.s.acquireWriter(ctx)
	if err != nil {
		return err
	}
	defer release()
	return fn(x.conn())
}

// acquireWriter takes the single-writer slot, if the backend has one, and
// returns its release.
func (s *Store) acquireWriter(ctx context.Context) (release func(), err error) {
	if s.writer == nil {
		return func() {}, nil
	}
	release = func() { <-s.writer }
	select {
	case s.writer <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(writerWait)
	defer timer.Stop()
	select {
	case s.writer <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sqlstore: waiting for the writer: %w", context.Cause(ctx))
	case <-timer.C:
		return nil, fmt.Errorf("sqlstore: waited %s for the writer (a write on the Store inside InTx?): %w", writerWait, context.DeadlineExceeded)
	}
}

// affected returns the rows a statement changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: rows affected: %w", err)
	}
	return n, nil
}
