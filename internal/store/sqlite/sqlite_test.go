package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
	"github.com/agentgate/agentgate/internal/store/storetest"
)

// open opens a fresh database in a temporary directory (in a subdirectory,
// which Open creates).
func open(t testing.TB, sync sqlite.Synchronous) *sqlstore.Store {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "data", "agentgate.db"), sync)
}

func openPath(t testing.TB, path string, sync sqlite.Synchronous) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path, Synchronous: sync})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
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
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, "") }, storetest.RunOptions{Exec: rawExec})
}

func TestOpenConfiguresTheDatabase(t *testing.T) {
	tests := []struct {
		name     string
		sync     sqlite.Synchronous
		wantSync int
	}{
		{name: "default is FULL", wantSync: 2},
		{name: "NORMAL", sync: sqlite.SyncNormal, wantSync: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t, tc.sync).DB()
			ctx := t.Context()
			// Check every pooled connection, not just the first.
			conns := make([]interface{ Close() error }, 0, 3)
			for range 3 {
				c, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
				var mode string
				var sync, fk, busy int
				for _, p := range []struct {
					pragma string
					dst    any
				}{{"journal_mode", &mode}, {"synchronous", &sync}, {"foreign_keys", &fk}, {"busy_timeout", &busy}} {
					if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.dst); err != nil {
						t.Fatalf("pragma %s: %v", p.pragma, err)
					}
				}
				if mode != "wal" || sync != tc.wantSync || fk != 1 || busy != 10000 {
					t.Fatalf("journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d", mode, sync, fk, busy)
				}
			}
			for _, c := range conns {
				_ = c.Close()
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	for name, o := range map[string]sqlite.Options{
		"empty path":          {},
		"memory database":     {Path: ":memory:"},
		"URI":                 {Path: "file:x.db?mode=memory"},
		"unknown synchronous": {Path: filepath.Join(t.TempDir(), "x.db"), Synchronous: "OFF"},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := sqlite.Open(t.Context(), o); err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?#% name", "agentgate.db")
	// Several stores creating the same new database at once.
	var wg sync.WaitGroup
	stores := make([]*sqlstore.Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(context.Background(), sqlite.Options{Path: path}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent open %d: %v", i, err)
		}
	}
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { _ = s.Close() })
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	ctx := t.Context()
	if err := stores[0].PutToken(ctx, store.Token{Hash: "h", AgentID: "a"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := openPath(t, path, "")
	if _, err := s.TokenByHash(ctx, "h"); err != nil {
		t.Fatalf("token after reopen: %v", err)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != migrationCount(t) {
		t.Fatalf("schema_migrations rows = %d (%v), want %d (one per migration file)", n, err, migrationCount(t))
	}
	if !strings.Contains(path, "?") {
		t.Fatal("the path should exercise escaping")
	}
}

// SQLite has one writer: a write on the Store itself inside InTx (instead
// of on the transaction's Queries) waits for the transaction that waits for
// it. It must end with the context, not hang.
func TestStoreWriteInsideInTxDoesNotHang(t *testing.T) {
	s := open(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := s.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		return s.PutToken(ctx, store.Token{Hash: "h", AgentID: "a"})
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("InTx = %v, want the context's deadline", err)
	}
	if err := s.PutToken(t.Context(), store.Token{Hash: "h", AgentID: "a"}); err != nil {
		t.Fatalf("store unusable afterwards: %v", err)
	}
}

func BenchmarkStore(b *testing.B) {
	for _, sync := range []sqlite.Synchronous{sqlite.SyncFull, sqlite.SyncNormal} {
		b.Run("sync="+string(sync), func(b *testing.B) {
			storetest.Bench(b, func(b *testing.B) store.Store { return open(b, sync) })
		})
	}
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
// a SQLite file (synchronous full) and reopens the file.
func TestCrashMidBatch(t *testing.T) {
	env := map[string]string{"AGENTGATE_CRASH_DB": os.Getenv("AGENTGATE_CRASH_DB")}
	if env["AGENTGATE_CRASH_DB"] == "" {
		env["AGENTGATE_CRASH_DB"] = filepath.Join(t.TempDir(), "crash.db")
	}
	storetest.CrashMidBatch(t, "TestCrashMidBatch", storetest.Crash{Env: env,
		Open: func(t testing.TB, env map[string]string) store.Store {
			return openPath(t, env["AGENTGATE_CRASH_DB"], sqlite.SyncFull)
		}})
}

// TestSharedTransactionsBatch checks that concurrent InSharedTx calls do
// share transactions.
func TestSharedTransactionsBatch(t *testing.T) {
	s := open(t, "")
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			err := s.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				_, err := q.ClaimDelivery(ctx, store.Delivery{Provider: "p", ID: strings.Repeat("x", i+1), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	batches, calls := s.BatchStats()
	if calls != 64 || batches >= calls {
		t.Fatalf("%d calls in %d transactions, want 64 calls sharing fewer", calls, batches)
	}
	t.Logf("%d calls in %d transactions", calls, batches)
}

// TestSharedTxAfterClose: a call made as or after the store closes is
// answered ErrClosed, never left waiting.
func TestSharedTxAfterClose(t *testing.T) {
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "closed.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.InSharedTx(context.Background(), func(context.Context, store.Queries) error { return nil })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, sqlstore.ErrClosed) {
			t.Fatalf("InSharedTx after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("InSharedTx after Close never returned")
	}
}

func TestAuditTimeBoundsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agentgate.db")
	storetest.AuditTimeBoundsMigration(t, func(t *testing.T) store.Store { return openPath(t, path, "") }, rawExec)
}

// TestAgentRareKindsUseTheirIndex: an agent's newest record of a rare kind
// (what the promotion pass asks for each agent) is one seek of the
// partial index, not a walk of the agent's decisions.
func TestAgentRareKindsUseTheirIndex(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT seq, hash, body FROM audit_log
		WHERE seq > 0 AND agent_id = 'a1' AND kind = 'kill' AND kind <> 'decision' ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "audit_log_agent_rare") {
		t.Fatalf("plan %q does not use audit_log_agent_rare", got)
	}
}
