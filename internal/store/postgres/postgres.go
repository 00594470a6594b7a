package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	// The pgx database/sql driver, registered as "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys (pg_advisory_lock's 64-bit key space), "agentgat"
// in ASCII plus a role digit.
const (
	auditLockKey     = 0x6167656e74676101
	migrationLockKey = 0x6167656e74676102
)

// defaultMaxConns is the pool size when Options.MaxConns is not set.
const defaultMaxConns = 16

// uniqueViolation is PostgreSQL's SQLSTATE for a unique constraint failure.
const uniqueViolation = "23505"

// Options configures Open.
type Options struct {
	// DSN is a libpq-style URL or key=value string. Unknown parameters
	// (such as search_path) are sent as run-time parameters.
	DSN string
	// Logger receives migration logs; nil discards them.
	Logger *slog.Logger
	// MaxConns caps the connection pool (default 16). A transaction holds
	// one connection from begin to commit.
	MaxConns int
}

// Open connects to PostgreSQL and applies pending migrations.
func Open(ctx context.Context, o Options) (*sqlstore.Store, error) {
	if o.DSN == "" {
		return nil, errors.New("postgres: no DSN")
	}
	db, err := sql.Open("pgx", o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	conns := o.MaxConns
	if conns <= 0 {
		conns = defaultMaxConns
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := dialect(sub)
	d.WatchRegistry = watchRegistry(o.DSN, log)
	s, err := sqlstore.New(ctx, db, d, log)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// dialect is the PostgreSQL dialect with the given migrations.
func dialect(migrations fs.FS) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:              "postgres",
		Migrations:        migrations,
		ForUpdate:         " FOR UPDATE",
		Isolation:         sql.LevelReadCommitted,
		AuditLock:         fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(auditLockKey)),
		MigrationLock:     fmt.Sprintf("SELECT pg_advisory_lock(%d)", int64(migrationLockKey)),
		MigrationUnlock:   fmt.Sprintf("SELECT pg_advisory_unlock(%d)", int64(migrationLockKey)),
		IsUniqueViolation: isUniqueViolation,
		IsUnavailable:     isUnavailable,
		WritableCTEs:      true,
		Pipeline:          pipeline,
	}
}

// isUniqueViolation reports a unique or primary key constraint failure.
// isUnavailable: the connection could not be made or was lost, or the
// server says it cannot serve now (class 08 connection exceptions, class
// 57P shutting down or starting up, 53300 too many connections).
func isUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) {
		return true
	}
	// The server or the network dropped a pooled connection mid-query:
	// pgx reports the cut as an unexpected EOF.
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return strings.HasPrefix(e.Code, "08") || strings.HasPrefix(e.Code, "57P") || e.Code == "53300"
	}
	return false
}

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}
