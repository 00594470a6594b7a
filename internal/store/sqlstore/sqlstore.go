package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/agentgate/agentgate/internal/store"
)

// Dialect is what differs between SQL backends.
type Dialect struct {
	// Name is the backend's name, returned by Store.Backend.
	Name string
	// Migrations holds the schema migrations at its root, named
	// NNNN_description.sql and applied in version order.
	Migrations fs.FS
	// ForUpdate is appended to SELECTs that read rows a transaction is about
	// to change: " FOR UPDATE" on PostgreSQL, empty on backends whose write
	// transactions already exclude each other (SQLite, BEGIN IMMEDIATE).
	ForUpdate string
	// AuditLock, if not empty, is executed at the start of an audit append
	// to serialise appends across replicas until the transaction ends
	// (PostgreSQL: SELECT pg_advisory_xact_lock(...)).
	AuditLock string
	// MigrationLock and MigrationUnlock, if not empty, are executed on one
	// connection around the migrations so that replicas starting together
	// migrate one at a time (PostgreSQL session advisory lock).
	MigrationLock, MigrationUnlock string
	// Isolation is the isolation level of the store's transactions. The
	// locking scheme needs each statement to see what committed before it
	// took its lock: PostgreSQL must run READ COMMITTED whatever the
	// server's default; SQLite's write transactions are serial anyway.
	Isolation sql.IsolationLevel
	// SingleWriter admits one writing transaction at a time in Go: for
	// backends with a single database-wide writer (SQLite), where queueing
	// in Go is fair and fast and polling in the busy handler is neither.
	SingleWriter bool
	// CacheStatements prepares each query once and reuses it (SQLite;
	// pgx caches prepared statements itself).
	CacheStatements bool
	// IsUniqueViolation reports whether err is a unique or primary key
	// constraint violation.
	IsUniqueViolation func(error) bool
	// IsUnavailable reports whether err is the backend's way of saying it
	// cannot be reached or cannot write now (Store.Unavailable adds the
	// errors every database/sql driver shares).
	IsUnavailable func(error) bool
	// PingWrites makes Ping take (and release) the write lock too: on a
	// backend whose file can be read while it cannot be written (SQLite: a
	// lock another process holds, a read-only file system), reachable is
	// not the same as able to record a decision.
	PingWrites bool
	// WritableCTEs says the backend runs INSERT and UPDATE inside WITH
	// (PostgreSQL): a decision's audit record, input and delivery answer
	// are then written by one statement, one round trip instead of three.
	WritableCTEs bool
	// CacheRegistry says every write to the database goes through this
	// store (one process, SQLite): the registry cache serves from the
	// start, without a watcher.
	CacheRegistry bool
	// WatchRegistry, if set, watches for changes other processes make to
	// agents, principals and kill switches until ctx ends: it calls
	// changed for each, live(true) once it is watching and live(false)
	// when it stops (the registry cache serves only while it watches).
	WatchRegistry func(ctx context.Context, changed func(), live func(bool))
	// Pipeline, if set, sends stmts on conn (the driver's connection,
	// from sql.Conn.Raw, inside one of the store's transactions) without
	// waiting for each answer, then reads their results in order: one
	// round trip for all of them. It stops at the first statement that
	// fails and returns its index (-1 when no statement is to blame) and
	// error. Without it, statements that could share a round trip run one
	// after the other (pipeline.go).
	Pipeline func(ctx context.Context, conn any, stmts []PipeStmt) (failed int, err error)
}

// Store implements store.Store over database/sql.
type Store struct {
	queries
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger
	// writer is a one-slot semaphore held by the writing transaction on
	// single-writer backends; nil otherwise.
	writer chan struct{}
	// stmts caches prepared statements where the dialect asks for it.
	stmts *stmtCache
	// batch runs InSharedTx's shared transactions.
	batch *committer
	// reg caches the agent of a principal and an agent's kill switch.
	reg *registryCache
	// stopWatch ends the registry watcher; watched is closed when it has.
	stopWatch context.CancelFunc
	watched   chan struct{}
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Queries = (*queries)(nil)
)

// New wraps db, which the backend opened and configured, applies pending
// migrations and returns the store. The store owns db: Close closes it, and
// so does New when it fails.
func New(ctx context.Context, db *sql.DB, d Dialect, log *slog.Logger) (*Store, error) {
	if d.Name == "" || d.Migrations == nil || d.IsUniqueViolation == nil {
		_ = db.Close()
		return nil, errors.New("sqlstore: dialect needs a name, migrations and a unique-violation test")
	}
	if d.Pipeline != nil && d.CacheStatements {
		// Cached statements are prepared on the database, not on a
		// transaction's own connection.
		_ = db.Close()
		return nil, errors.New("sqlstore: a dialect that pipelines cannot cache statements")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, dialect: d, log: log}
	s.queries = queries{s: s}
	s.batch = newCommitter(s)
	s.reg = newRegistryCache(d.CacheRegistry && d.WatchRegistry == nil)
	if d.SingleWriter {
		s.writer = make(chan struct{}, 1)
	}
	if d.CacheStatements {
		s.stmts = newStmtCache(db)
	}
	if err := s.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.watched = make(chan struct{})
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopWatch = stop
	go func() {
		defer close(s.watched)
		if d.WatchRegistry != nil {
			d.WatchRegistry(wctx, s.reg.changed, s.reg.setLive)
		}
	}()
	return s, nil
}

// Ping checks that the database answers and, where the dialect asks for
// it, that a write transaction can begin and commit now.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: %s: ping: %w", s.dialect.Name, err)
	}
	if !s.dialect.PingWrites {
		return nil
	}
	if err := s.inTx(ctx, func(*queries) error { return nil }); err != nil {
		return fmt.Errorf("sqlstore: %s: ping: cannot write: %w", s.dialect.Name, err)
	}
	return nil
}

// Backend names the backend ("sqlite" or "postgres").
func (s *Store) Backend() string { return s.dialect.Name }

// Close stops the committer (failing calls still queued with ErrClosed)
// and closes the database.
func (s *Store) Close() error {
	s.stopWatch()
	<-s.watched
	s.reg.setLive(false)
	s.batch.close()
	if s.stmts != nil {
		s.stmts.close()
	}
	return s.db.Close()
}

// DB returns the underlying database, for administration and tests. Writing
// through it bypasses the store's serialisation.
func (s *Store) DB() *sql.DB { return s.db }
