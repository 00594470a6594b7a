package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migration is one versioned schema change.
type migration struct {
	version int64
	name    string
	sql     string
}

// loadMigrations reads NNNN_description.sql files from the root of fsys,
// in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.ParseInt(prefix, 10, 64)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %q is not named NNNN_description.sql", e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: version, name: e.Name(), sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlstore: migrations %q and %q share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("sqlstore: no migrations")
	}
	return ms, nil
}

// migrate applies pending migrations, each in its own transaction, on one
// connection holding the dialect's migration lock.
func (s *Store) migrate(ctx context.Context) (err error) {
	ms, err := loadMigrations(s.dialect.Migrations)
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: connect: %w", err)
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("sqlstore: migrate: release connection: %w", cerr)
		}
	}()
	if lock := s.dialect.MigrationLock; lock != "" {
		if _, err := conn.ExecContext(ctx, lock); err != nil {
			return fmt.Errorf("sqlstore: migrate: lock: %w", err)
		}
		defer s.migrationUnlock(ctx, conn)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at_us BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlstore: migrate: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.applyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	var newest sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("sqlstore: migrate: read version: %w", err)
	}
	if latest := ms[len(ms)-1].version; newest.Int64 > latest {
		s.log.WarnContext(ctx, "sqlstore: database schema is newer than this binary", "backend", s.dialect.Name, "schema", newest.Int64, "known", latest)
	}
	return nil
}

// migrationUnlock releases the migration lock; if that fails the connection
// is discarded so that the lock does not stay held in the pool.
func (s *Store) migrationUnlock(ctx context.Context, conn *sql.Conn) {
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), s.dialect.MigrationUnlock); err != nil {
		s.log.WarnContext(ctx, "sqlstore: migrate: unlock failed; dropping the connection", "err", err)
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// applyMigration applies m unless it is recorded as applied.
func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate %s: begin: %w", m.name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = $1`, m.version).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: migrate %s: check: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("sqlstore: migrate %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at_us) VALUES ($1, $2, $3)`,
		m.version, m.name, micros(time.Now())); err != nil {
		return fmt.Errorf("sqlstore: migrate %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: migrate %s: commit: %w", m.name, err)
	}
	s.log.InfoContext(ctx, "sqlstore: applied migration", "backend", s.dialect.Name, "migration", m.name)
	return nil
}
