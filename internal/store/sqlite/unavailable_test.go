package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

// openBusy opens a store whose writes wait at most 100ms for a lock.
func openBusy(t *testing.T) (*sqlstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agentgate.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path, BusyTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// rawDB opens the file as another process would, with the driver's own
// defaults (no busy timeout).
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// holdWriteLock takes the database's write lock on another connection, as
// a second process (a shell, a backup tool) would, until the test ends or
// the returned func is called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	conn, err := rawDB(t, "file:"+path).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	release = func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		_ = conn.Close()
	}
	t.Cleanup(release)
	return release
}

func claim(ctx context.Context, s store.Store, id string) error {
	_, err := s.ClaimDelivery(ctx, store.Delivery{Provider: "generic", ID: id, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	return err
}

// TestUnavailable: the errors SQLite really gives when it cannot write now
// are reported as the store being unavailable (503 with Retry-After);
// errors that retrying cannot fix are not.
func TestUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  func(t *testing.T, s *sqlstore.Store, path string) error
		want bool
	}{
		{name: "write lock held by another process", want: true, err: func(t *testing.T, s *sqlstore.Store, path string) error {
			holdWriteLock(t, path)
			return claim(t.Context(), s, "d1")
		}},
		{name: "database opened read-only", want: true, err: func(t *testing.T, _ *sqlstore.Store, path string) error {
			_, err := rawDB(t, "file:"+path+"?mode=ro").Exec("DELETE FROM deliveries")
			return err
		}},
		{name: "database file cannot be opened", want: true, err: func(t *testing.T, _ *sqlstore.Store, _ string) error {
			_, err := rawDB(t, "file:"+filepath.Join(t.TempDir(), "missing", "x.db")+"?mode=rw").Exec("SELECT 1")
			return err
		}},
		{name: "a duplicate key", want: false, err: func(t *testing.T, s *sqlstore.Store, _ string) error {
			_, err := s.DB().Exec("CREATE TABLE u (x UNIQUE); INSERT INTO u VALUES (1); INSERT INTO u VALUES (1)")
			return err
		}},
		{name: "a syntax error", want: false, err: func(t *testing.T, s *sqlstore.Store, _ string) error {
			_, err := s.DB().Exec("SELEC 1")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openBusy(t)
			err := tc.err(t, s, path)
			if err == nil {
				t.Fatal("no error")
			}
			if got := s.Unavailable(err); got != tc.want {
				t.Fatalf("Unavailable(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}

// TestPingReportsALockedDatabase: a database another process keeps locked
// can be read but not written, so it is not ready; it is once the lock
// goes, and writes succeed again.
func TestPingReportsALockedDatabase(t *testing.T) {
	s, path := openBusy(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	release := holdWriteLock(t, path)
	err := s.Ping(t.Context())
	if err == nil || !s.Unavailable(err) {
		t.Fatalf("ping with the database locked = %v, want an unavailable error", err)
	}
	if err := claim(t.Context(), s, "d1"); !s.Unavailable(err) {
		t.Fatalf("claim with the database locked = %v", err)
	}
	release()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("ping after the lock went: %v", err)
	}
	if err := claim(t.Context(), s, "d1"); err != nil {
		t.Fatalf("claim after the lock went: %v", err)
	}
}

func TestOpenRejectsANegativeBusyTimeout(t *testing.T) {
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "x.db"), BusyTimeout: -time.Second})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open succeeded")
	}
}
