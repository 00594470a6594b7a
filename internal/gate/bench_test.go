package gate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/replay"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/postgres"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/testutil/pgtest"
)

// BenchmarkDecide measures one full admission decision in process: identify,
// kill switch check, quota usage, OPA evaluation of the built-in policy,
// then one transaction with delivery claim, GCRA charge, anomaly counters,
// the hash-chained audit append (durable: SQLite synchronous=FULL) and the
// stored answer. The clock advances five minutes per decision (more than the 3-minute refill
// interval of a 20/hour quota) so every one is
// allowed and charged, the expensive path.
func BenchmarkDecide(b *testing.B) {
	openSQLite := func(sync sqlite.Synchronous) func(b *testing.B) store.Store {
		return func(b *testing.B) store.Store {
			st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db"), Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}
	}
	backends := map[string]func(b *testing.B) store.Store{
		"sqlite":        openSQLite(sqlite.SyncFull),
		"sqlite-normal": openSQLite(sqlite.SyncNormal),
		"postgres": func(b *testing.B) store.Store {
			st, err := postgres.Open(context.Background(), postgres.Options{DSN: pgtest.DSN(b), MaxConns: 8})
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
	}
	for _, name := range []string{"sqlite", "sqlite-normal", "postgres"} {
		b.Run(name, func(b *testing.B) {
			st := backends[name](b)
			defer st.Close()
			var tick atomic.Int64
			base := time.Now()
			now := func() time.Time { return base.Add(time.Duration(tick.Add(1)) * 5 * time.Minute) }
			reg := registry.New(registry.Options{Store: st, Now: now})
			if _, _, err := reg.Provision(context.Background(), "bench", registry.Spec{Name: "bench-bot", Type: "coding", Owner: "alice",
				Capabilities: []string{"build"}, Environments: []string{"staging"}, Principals: []string{"github:bench-bot[bot]"}}); err != nil {
				b.Fatal(err)
			}
			g := gate.New(gate.Options{Store: st, Identify: reg, Policy: builtin(b), Killer: reg, Failure: config.Default().Failure, Now: now, Inputs: inputs(b)})
			ev := event.Event{Provider: "generic", Kind: event.KindBuild, Action: "requested", Repo: "acme/api", SHA: "abc",
				Principal: "github:bench-bot[bot]", Trigger: event.Trigger{Prompt: "fix flaky test", Source: "api"}}
			measureDecisions(b, g, func(int) event.Event { return ev })
		})
	}
}

// measureDecisions runs one allowed decision per iteration, the event of
// iteration i from next, and reports the p50 and p99 latencies.
func measureDecisions(b *testing.B, g *gate.Gate, next func(i int) event.Event) {
	ctx := context.Background()
	took := make([]time.Duration, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ev := next(i)
		t0 := time.Now()
		res, err := g.Decide(ctx, gate.Request{Event: ev, DeliveryID: fmt.Sprintf("d-%d", i)})
		took = append(took, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if res.Outcome != gate.Allow {
			b.Fatalf("decision %d: %+v", i, res)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// inputs records decisions' policy inputs as a server does by default
// (policy.record_inputs); AGENTGATE_BENCH_INPUTS=off measures without.
func inputs(b *testing.B) *replay.Codec {
	if os.Getenv("AGENTGATE_BENCH_INPUTS") == "off" {
		b.Log("policy inputs not recorded")
		return nil
	}
	return &replay.Codec{}
}
