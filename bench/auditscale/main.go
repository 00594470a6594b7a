// Command auditscale fills an audit log with a valid hash chain of synthetic
// decision records and measures what an operator does with a big one: the
// filtered queries of GET /api/v1/audit, and a full verification of the
// chain (time and peak memory).
//
//	go run ./bench/auditscale -n 10000000 -db /var/tmp/audit.db     # SQLite (kept for re-runs)
//	go run ./bench/auditscale -n 10000000 -pg 'postgres://postgres@127.0.0.1:5432/test?search_path=auditscale'
//
// On PostgreSQL the log is filled with COPY (copy.go), on SQLite through
// the store's own append.
// A database that already holds records is topped up to -n, not refilled.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/postgres"
	"github.com/agentgate/agentgate/internal/store/sqlite"
)

func main() {
	n := flag.Int64("n", 1_000_000, "records the log should hold")
	db := flag.String("db", "", "SQLite file (created if missing)")
	pg := flag.String("pg", "", "PostgreSQL DSN instead of SQLite")
	flag.Parse()
	if err := run(context.Background(), *n, *db, *pg); err != nil {
		fmt.Fprintln(os.Stderr, "auditscale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n int64, db, pg string) error {
	var st store.Store
	var err error
	opened := time.Now()
	switch {
	case pg != "":
		st, err = postgres.Open(ctx, postgres.Options{DSN: pg, MaxConns: 4})
	case db != "":
		st, err = sqlite.Open(ctx, sqlite.Options{Path: db, Synchronous: sqlite.SyncNormal})
	default:
		return fmt.Errorf("-db or -pg is required")
	}
	if err != nil {
		return err
	}
	defer st.Close()
	// Opening applies pending migrations, which on a big log of an older
	// schema is most of the time reported here.
	fmt.Printf("opened in %s\n", time.Since(opened).Round(time.Millisecond))
	have, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	if have < n {
		fmt.Printf("filling %d records (%d there)\n", n-have, have)
		fill := func() error { return fill(ctx, st, have, n) }
		if pg != "" {
			fill = func() error { return fillPostgres(ctx, pg, n) }
		}
		if err := fill(); err != nil {
			return err
		}
	}
	fmt.Printf("%d records\n\n", max(have, n))
	return measure(ctx, st, n)
}

// base is the synthetic log's first record's time; records are 50 ms
// apart, so 10 million span about 6 days.
var base = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func record(i int64) *audit.Record {
	// Independent pseudo-random draws per field, so that filters combine
	// the way real traffic's do.
	h := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	h ^= h >> 31
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 29
	outcome := "allow"
	switch r := h % 100; {
	case r < 2:
		outcome = "approval_required"
	case r < 10:
		outcome = "deny"
	}
	provider := []string{"generic", "github", "github", "gitlab", "generic", "github", "generic", "gitlab", "github", "generic",
		"github", "generic", "gitlab", "github", "generic", "github", "generic", "github", "gitlab", "argo"}[(h>>8)%20]
	agent := int64((h >> 16) % 1000)
	return &audit.Record{ID: fmt.Sprintf("rec-%d", i), Time: base.Add(time.Duration(i) * 50 * time.Millisecond), Kind: audit.KindDecision,
		Actor: "webhook:" + provider, AgentID: fmt.Sprintf("00000000-0000-4000-8000-%012d", agent), AgentName: fmt.Sprintf("agent-%d", agent),
		AgentType: "coding", Owner: fmt.Sprintf("team-%d@example.com", agent%100), Tier: "established", Provider: provider,
		EventKind: "build", Action: "requested", Repo: fmt.Sprintf("acme/repo-%d", i%300), SHA: fmt.Sprintf("%040x", i),
		Principal: fmt.Sprintf("github:agent-%d[bot]", agent), Trigger: &audit.Trigger{Prompt: "fix the flaky test", Source: "api"},
		Decision:   &audit.Decision{Outcome: outcome, Effective: outcome, Enforcement: "enforce", PolicyRevision: "sha256:256c5c77cf5fe702"},
		DeliveryID: fmt.Sprintf("d-%d", i)}
}

func fill(ctx context.Context, st store.Store, from, to int64) error {
	const batch = 5000
	start := time.Now()
	for i := from; i < to; i += batch {
		err := st.InTx(ctx, func(ctx context.Context, q store.Queries) error {
			for j := i; j < min(i+batch, to); j++ {
				if err := q.AppendAudit(ctx, record(j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done := i + batch - from; done%500_000 == 0 {
			fmt.Printf("  %d records, %.0f/s\n", i+batch, float64(done)/time.Since(start).Seconds())
		}
	}
	return nil
}

func measure(ctx context.Context, st store.Store, n int64) error {
	last := base.Add(time.Duration(n) * 50 * time.Millisecond)
	queries := []struct {
		name string
		q    store.AuditQuery
	}{
		{"first page, no filter", store.AuditQuery{}},
		{"agent", store.AuditQuery{AgentID: "00000000-0000-4000-8000-000000000042"}},
		{"owner", store.AuditQuery{Owner: "team-7@example.com"}},
		{"outcome deny", store.AuditQuery{Outcome: "deny"}},
		{"provider argo (5%)", store.AuditQuery{Provider: "argo"}},
		{"last hour", store.AuditQuery{From: last.Add(-time.Hour)}},
		{"agent, last day", store.AuditQuery{AgentID: "00000000-0000-4000-8000-000000000042", From: last.Add(-24 * time.Hour)}},
		{"owner, deny, last day", store.AuditQuery{Owner: "team-7@example.com", Outcome: "deny", From: last.Add(-24 * time.Hour)}},
		{"provider argo, deny", store.AuditQuery{Provider: "argo", Outcome: "deny"}},
		{"a page deep in the log", store.AuditQuery{AfterSeq: n / 2}},
	}
	fmt.Printf("%-28s %8s %10s %10s\n", "query (100 records)", "found", "median", "max")
	for _, tc := range queries {
		tc.q.Limit = 100
		var took []time.Duration
		found := 0
		for range 5 {
			t0 := time.Now()
			recs, err := st.QueryAudit(ctx, tc.q)
			if err != nil {
				return fmt.Errorf("%s: %w", tc.name, err)
			}
			took = append(took, time.Since(t0))
			found = len(recs)
		}
		slices.Sort(took)
		fmt.Printf("%-28s %8d %10s %10s\n", tc.name, found, took[2].Round(10*time.Microsecond), took[4].Round(10*time.Microsecond))
	}

	// The console overview: decisions per minute by outcome, last 15 minutes
	// (18,000 records at this log's 20 a second).
	var took []time.Duration
	buckets := 0
	for range 5 {
		t0 := time.Now()
		counts, err := st.CountAudit(ctx, store.AuditCountQuery{Kind: audit.KindDecision, From: last.Add(-15 * time.Minute), To: last.Add(time.Minute), Every: time.Minute})
		if err != nil {
			return fmt.Errorf("decisions per minute: %w", err)
		}
		took = append(took, time.Since(t0))
		buckets = len(counts)
	}
	slices.Sort(took)
	fmt.Printf("%-28s %8d %10s %10s\n", "per minute, last 15 min", buckets, took[2].Round(10*time.Microsecond), took[4].Round(10*time.Microsecond))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	peak := uint64(0)
	res, err := audit.VerifyChain(ctx, st.ScanAudit, func(_ audit.Stored, v *audit.Verifier) error {
		if v.Checked()%1_000_000 == 0 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if res.Break != nil {
		return fmt.Errorf("chain break at %d: %s", res.Break.Seq, res.Break.Reason)
	}
	checked := res.Checked
	fmt.Printf("\nverify: %d records in %s (%.0f/s), heap in use at most %.1f MiB (%.1f MiB before)\n",
		checked, time.Since(t0).Round(time.Millisecond), float64(checked)/time.Since(t0).Seconds(), float64(peak)/(1<<20), float64(before.HeapInuse)/(1<<20))
	return nil
}
