package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/postgres"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
	"github.com/agentgate/agentgate/internal/store/storetest"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testDSN is the server the tests use: $AGENTGATE_TEST_POSTGRES_DSN or a
// local default.
func testDSN() string {
	if dsn := os.Getenv("AGENTGATE_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// withSearchPath adds search_path to a URL or key=value DSN; pgx sends it
// as a run-time parameter.
func withSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// reachable pings the test server once per test binary, so that an
// unreachable server costs one timeout, not one per test.
var reachable = sync.OnceValue(func() error {
	db, err := sql.Open("pgx", testDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
})

// redacted hides a URL DSN's password; other forms are not shown.
func redacted(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "$AGENTGATE_TEST_POSTGRES_DSN"
}

// newSchema creates an empty schema of its own for one test, dropped when
// the test ends, and returns the DSN that uses it. It skips the test when
// PostgreSQL is unreachable, unless CI=true, where it fails.
func newSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN()
	if err := reachable(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is unreachable at %s and CI=true: %v", redacted(dsn), err)
		}
		t.Skipf("PostgreSQL is unreachable at %s (set AGENTGATE_TEST_POSTGRES_DSN): %v", redacted(dsn), err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("postgres DSN: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	schema := "agentgate_test_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(dsn, schema)
}

func openDSN(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, MaxConns: 8})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// rawExec runs SQL on the database behind a store, bypassing it.
func rawExec(s store.Store, query string, args ...any) error {
	_, err := s.(*sqlstore.Store).DB().Exec(query, args...)
	return err
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openDSN(t, newSchema(t)) }, storetest.RunOptions{Exec: rawExec})
}

func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	dsn := newSchema(t)
	var wg sync.WaitGroup
	stores := make([]*sqlstore.Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = postgres.Open(context.Background(), postgres.Options{DSN: dsn, MaxConns: 2})
		})
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("concurrent open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { _ = s.Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	ctx := t.Context()
	if err := stores[0].PutToken(ctx, store.Token{Hash: "h", AgentID: "a"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if _, err := s.TokenByHash(ctx, "h"); err != nil {
			t.Fatalf("replica does not see the shared database: %v", err)
		}
	}
	var n int
	if err := stores[1].DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != migrationCount(t) {
		t.Fatalf("schema_migrations rows = %d (%v), want %d (one per migration file)", n, err, migrationCount(t))
	}
	var schema string
	if err := stores[2].DB().QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil || !strings.HasPrefix(schema, "agentgate_test_") {
		t.Fatalf("current_schema = %q (%v): the test is not isolated", schema, err)
	}
}

// The locking scheme relies on READ COMMITTED: under a stricter server
// default a transaction would read quota state from before it took the
// agent's lock. The store must set its own isolation level.
func TestChargesStayExactUnderStricterServerDefault(t *testing.T) {
	for _, level := range []string{"repeatable read", "serializable"} {
		t.Run(level, func(t *testing.T) {
			dsn := newSchema(t)
			u, err := url.Parse(dsn)
			if err != nil {
				t.Skip("DSN is not a URL")
			}
			q := u.Query()
			q.Set("default_transaction_isolation", level)
			u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
			s := openDSN(t, u.String())
			var got string
			if err := s.DB().QueryRowContext(t.Context(), "SHOW default_transaction_isolation").Scan(&got); err != nil || got != level {
				t.Fatalf("server default = %q (%v), want %q", got, err, level)
			}
			const goroutines, limit = 30, 5
			var allowed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range goroutines {
				wg.Go(func() {
					<-start
					err := s.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
						charges := []store.QuotaCharge{{Name: "deploys", Limit: limit, Window: time.Hour, Cost: 1}}
						_, ok, err := q.ChargeQuotas(ctx, "a1", charges, time.Unix(1e9, 0))
						if ok {
							allowed.Add(1)
						}
						return err
					})
					if err != nil {
						t.Errorf("charge: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if allowed.Load() != limit {
				t.Fatalf("%d charges allowed, want %d", allowed.Load(), limit)
			}
		})
	}
}

func TestOpenRejectsEmptyDSN(t *testing.T) {
	if s, err := postgres.Open(t.Context(), postgres.Options{}); err == nil {
		_ = s.Close()
		t.Fatal("Open succeeded without a DSN")
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return openDSN(b, newSchema(b)) })
}

// migrationCount is the number of embedded migration files: each is
// applied exactly once.
func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestCrashMidBatch kills a process holding a shared transaction open on
// PostgreSQL: the server rolls the batch back when the connection drops.
func TestCrashMidBatch(t *testing.T) {
	env := map[string]string{"AGENTGATE_CRASH_DSN": os.Getenv("AGENTGATE_CRASH_DSN")}
	if env["AGENTGATE_CRASH_DSN"] == "" {
		env["AGENTGATE_CRASH_DSN"] = newSchema(t)
	}
	storetest.CrashMidBatch(t, "TestCrashMidBatch", storetest.Crash{Env: env,
		Open: func(t testing.TB, env map[string]string) store.Store { return openDSN(t, env["AGENTGATE_CRASH_DSN"]) }})
}

func TestAuditTimeBoundsMigration(t *testing.T) {
	dsn := newSchema(t)
	storetest.AuditTimeBoundsMigration(t, func(t *testing.T) store.Store { return openDSN(t, dsn) }, rawExec)
}
