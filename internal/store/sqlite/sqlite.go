package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Synchronous is SQLite's commit durability setting.
type Synchronous string

// Durability settings.
const (
	// SyncFull makes every commit durable (fsync of the WAL): the default.
	SyncFull Synchronous = "FULL"
	// SyncNormal syncs only at checkpoints: the database stays consistent
	// but a power loss may lose the most recent commits.
	SyncNormal Synchronous = "NORMAL"
)

// defaultBusyTimeout is how long a connection waits for a lock held by
// another process before failing with SQLITE_BUSY, unless Options says.
const defaultBusyTimeout = 10 * time.Second

// Options configures Open.
type Options struct {
	// Path is the database file; parent directories are created.
	Path string
	// Logger receives migration and maintenance logs; nil discards them.
	Logger *slog.Logger
	// Synchronous is SyncFull (the default when empty) or SyncNormal.
	Synchronous Synchronous
	// BusyTimeout is how long a connection waits for a lock another
	// process holds before failing with SQLITE_BUSY (which Store.Unavailable
	// reports); zero means 10s.
	BusyTimeout time.Duration
}

// Open opens (creating if needed) the SQLite database at o.Path and applies
// pending migrations.
func Open(ctx context.Context, o Options) (*sqlstore.Store, error) {
	dsn, err := dsn(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create directory for %s: %w", o.Path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", o.Path, err)
	}
	// One writer at a time (sqlstore queues them) plus concurrent WAL
	// readers. Idle connections are kept: opening one re-runs the pragmas.
	conns := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := enableWAL(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", o.Path, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	s, err := sqlstore.New(ctx, db, dialect(sub), o.Logger)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", o.Path, err)
	}
	return s, nil
}

// dsn builds the driver's data source name.
func dsn(o Options) (string, error) {
	if o.Path == "" {
		return "", errors.New("sqlite: no database path")
	}
	if o.Path == ":memory:" || strings.HasPrefix(o.Path, "file:") || strings.Contains(o.Path, "mode=memory") {
		return "", fmt.Errorf("sqlite: path %q must be a file path: in-memory databases are not supported (use a file in a temporary directory)", o.Path)
	}
	sync := o.Synchronous
	switch sync {
	case "":
		sync = SyncFull
	case SyncFull, SyncNormal:
	default:
		return "", fmt.Errorf("sqlite: synchronous %q is not FULL or NORMAL", o.Synchronous)
	}
	busy := o.BusyTimeout
	switch {
	case busy == 0:
		busy = defaultBusyTimeout
	case busy < 0:
		return "", fmt.Errorf("sqlite: busy timeout %s is negative", busy)
	}
	q := []string{
		"_txlock=immediate",
		fmt.Sprintf("_pragma=busy_timeout(%d)", busy.Milliseconds()),
		"_pragma=foreign_keys(ON)",
		"_pragma=synchronous(" + string(sync) + ")",
	}
	return "file:" + (&url.URL{Path: o.Path}).EscapedPath() + "?" + strings.Join(q, "&"), nil
}

// enableWAL switches the database to WAL mode, which the file then keeps.
// It is done once here rather than by every connection: changing the
// journal mode needs an exclusive lock and SQLite does not wait for that
// one (busy_timeout does not apply), so processes creating the same new
// database at once retry until the first has converted it.
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(defaultBusyTimeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("journal mode is %q, not wal", mode)
		case !isBusy(err) || time.Now().After(deadline):
			return fmt.Errorf("enable WAL: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("enable WAL: %w", context.Cause(ctx))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports SQLITE_BUSY or SQLITE_LOCKED (any extended code).
func isBusy(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// dialect is the SQLite dialect with the given migrations. Write
// transactions are BEGIN IMMEDIATE (the DSN's _txlock), which serialises
// quota charges and audit appends without row or advisory locks.
func dialect(migrations fs.FS) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:              "sqlite",
		Migrations:        migrations,
		SingleWriter:      true,
		CacheStatements:   true,
		IsUniqueViolation: isUniqueViolation,
		IsUnavailable:     isUnavailable,
		PingWrites:        true,
		// One process writes an SQLite file (operations.md), so every
		// change to the registry is this store's own.
		CacheRegistry: true,
	}
}

// isUniqueViolation reports a UNIQUE or PRIMARY KEY constraint failure.
// isUnavailable: the database file cannot be opened, read or written now
// (disk I/O error, disk full, read-only file system, locked past the busy
// timeout).
func isUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}
