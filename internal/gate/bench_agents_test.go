package gate_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/postgres"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/testutil/pgtest"
)

// BenchmarkDecideAgents is BenchmarkDecide with many registered agents,
// for flat cost: a decision among 100,000 agents should cost what it costs
// among 10. The agents are inserted in one transaction (not through the
// API, which would take minutes), and each decision is for the next agent
// in a stride over all of them.
//
//	go test -run '^$' -bench BenchmarkDecideAgents -benchtime 3000x ./internal/gate
func BenchmarkDecideAgents(b *testing.B) {
	open := map[string]func(b *testing.B) store.Store{
		"sqlite": func(b *testing.B) store.Store {
			st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db")})
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
		"postgres": func(b *testing.B) store.Store {
			st, err := postgres.Open(context.Background(), postgres.Options{DSN: pgtest.DSN(b), MaxConns: 8})
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, n := range []int{10, 100_000} {
			b.Run(fmt.Sprintf("%s/agents=%d", backend, n), func(b *testing.B) {
				st := open[backend](b)
				defer st.Close()
				ctx := context.Background()
				created := time.Now().UTC()
				err := st.InTx(ctx, func(ctx context.Context, q store.Queries) error {
					for i := range n {
						name := fmt.Sprintf("agent-%d", i)
						a := agents.Agent{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: name, Type: agents.TypeCoding,
							Owner: fmt.Sprintf("team-%d", i%500), Capabilities: []string{"build"}, Tier: agents.TierTrusted, State: agents.StateActive,
							Environments: []string{"staging"}, Principals: []string{"github:" + name + "[bot]"}, CreatedAt: created, UpdatedAt: created, Version: 1}
						if err := q.CreateAgent(ctx, a); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				var tick atomic.Int64
				base := time.Now()
				now := func() time.Time { return base.Add(time.Duration(tick.Add(1)) * 5 * time.Minute) }
				reg := registry.New(registry.Options{Store: st, Now: now})
				g := gate.New(gate.Options{Store: st, Identify: reg, Policy: builtin(b), Killer: reg, Failure: config.Default().Failure, Now: now})
				measureDecisions(b, g, func(i int) event.Event {
					agent := (i * 7919) % n // a stride over every agent
					return event.Event{Provider: "generic", Kind: event.KindBuild, Action: "requested", Repo: "acme/api", SHA: "abc",
						Principal: fmt.Sprintf("github:agent-%d[bot]", agent)}
				})
			})
		}
	}
}
