package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the statement cache; queries built from
// optional filters have a few shapes each, so the bound is never reached
// in practice, and past it statements simply run unprepared.
const maxCachedStatements = 256

// stmtCache keeps one prepared statement per query text. database/sql
// prepares each on a connection the first time it runs there and reuses
// it after, including inside transactions (Tx.StmtContext). For pure-Go
// SQLite this halves the cost of a short statement, most of which is
// parsing and planning.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns the prepared statement for query, or nil when it cannot be
// prepared or the cache is full (the caller then runs it unprepared).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if len(c.stmts) >= maxCachedStatements {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.stmts[query] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}

// cachedQuerier runs statements through the cache, on the database or
// bound to a transaction.
type cachedQuerier struct {
	cache *stmtCache
	tx    *sql.Tx
	base  querier
}

var _ querier = cachedQuerier{}

func (q cachedQuerier) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.cache.get(ctx, query)
	if st == nil || q.tx == nil {
		return st
	}
	// Closed with the transaction; the connection keeps the prepared
	// statement for the next one.
	return q.tx.StmtContext(ctx, st)
}

func (q cachedQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.base.ExecContext(ctx, query, args...)
}

func (q cachedQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.base.QueryContext(ctx, query, args...)
}

func (q cachedQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.base.QueryRowContext(ctx, query, args...)
}
