// Command p1 measures a full agentgate decision against a bare OPA server
// evaluating the same policy, side by side in one run on one machine.
//
// It builds this checkout's admission binary and OPA (go install, cached),
// copies the built-in policy (trusted coding agents' builds_per_hour raised
// so that every decision is allowed) for both, starts OPA, agentgate on
// SQLite (synchronous full) and agentgate on PostgreSQL, provisions the same
// trusted coding agents in both agentgates, then drives every server with
// the same client in interleaved rounds and prints throughput, latency,
// memory and the ratios. agentgate gets signed generic webhooks (verify,
// parse, identify, kill switches, policy, quota, durable audit); OPA gets
// the policy input agentgate builds for the same build on its Data API.
// A second OPA with its console decision logger on (-opa-logs) shows what
// a record of every decision costs OPA.
//
//	go run ./bench/p1                       # from the repository root
//	go run ./bench/p1 -rounds 5 -round 20s -c 32 -pg ""
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	rounds     int
	round      time.Duration
	warmup     time.Duration
	workers    int
	agents     int
	pg         string
	opaVersion string
	cache      string
	keep       bool
	opaLogs    bool
	pgDelay    time.Duration
	gogc       int
	proxyOnly  bool
	paths      []string
}

func main() {
	var o options
	cache, _ := os.UserCacheDir()
	flag.IntVar(&o.rounds, "rounds", 3, "measured rounds per server (interleaved)")
	flag.DurationVar(&o.round, "round", 15*time.Second, "length of a round")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "unmeasured first round per server")
	flag.IntVar(&o.workers, "c", 16, "concurrent client workers")
	flag.IntVar(&o.agents, "agents", 400, "trusted coding agents the load is spread over")
	flag.StringVar(&o.pg, "pg", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL DSN for agentgate on PostgreSQL (a fresh schema is used); empty: skip")
	flag.StringVar(&o.opaVersion, "opa-version", "v1.22.2", "OPA release to go install")
	flag.StringVar(&o.cache, "cache", filepath.Join(cache, "agentgate-bench"), "where built tools are kept between runs")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (logs, databases)")
	flag.DurationVar(&o.pgDelay, "pg-delay", 0, "delay added each way between agentgate and PostgreSQL, for a database on another host (a sleep: at least the timer's resolution; the measured round trip is printed)")
	flag.IntVar(&o.gogc, "gogc", 0, "GOGC for the agentgate servers only (the chart sets 400 under its GOMEMLIMIT); 0: Go's default, 100")
	flag.BoolVar(&o.proxyOnly, "proxy-only", false, "only start the -pg-delay proxy in front of -pg, print its DSN and round trip, and serve until interrupted (for other benchmarks, such as BenchmarkDecide with AGENTGATE_TEST_POSTGRES_DSN)")
	flag.BoolVar(&o.opaLogs, "opa-logs", true, "also measure OPA with its console decision logger on (opa-decision-logs)")
	pathList := flag.String("paths", "generic", "webhook paths to measure, comma-separated: generic, github (a 20 KB workflow_run), argo (a Workflow AdmissionReview)")
	flag.Parse()
	o.paths = strings.Split(*pathList, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	do := run
	if o.proxyOnly {
		do = proxyOnly
	}
	if err := do(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "p1:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.rounds < 1 || o.workers < 1 || o.agents < 1 {
		return errors.New("-rounds, -c and -agents must be positive")
	}
	dir, err := os.MkdirTemp("", "agentgate-p1-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("working directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	env, err := setup(ctx, o, dir)
	if err != nil {
		return err
	}
	defer env.close()

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.workers * 2, MaxConnsPerHost: o.workers * 2}}
	var seq atomic.Int64
	fmt.Printf("%d workers, %d agents, rounds of %s after a %s warm-up; every decision must be allowed\n\n", o.workers, o.agents, o.round, o.warmup)
	for _, t := range env.targets {
		if r := drive(ctx, client, t, o.workers, o.warmup, &seq); r.fail > 0 {
			return fmt.Errorf("warm-up of %s: %d failed: %v", t.label(), r.fail, r.firstErr)
		}
	}
	results := map[string][]round{}
	fmt.Printf("%-5s %-28s %10s %9s %9s %8s %10s\n", "round", "server", "decisions/s", "p50", "p99", "RSS MiB", "CPU/req")
	for i := 0; i < o.rounds; i++ {
		// Rotate the order so that no server always runs first.
		for j := range env.targets {
			t := env.targets[(i+j)%len(env.targets)]
			r := drive(ctx, client, t, o.workers, o.round, &seq)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if r.fail > 0 {
				return fmt.Errorf("round %d on %s: %d of %d failed: %v", i+1, t.label(), r.fail, r.fail+r.ok, r.firstErr)
			}
			results[t.label()] = append(results[t.label()], r)
			shed := ""
			if r.shed > 0 {
				shed = fmt.Sprintf("  %d shed (503, waited Retry-After)", r.shed)
			}
			fmt.Printf("%-5d %-28s %10.0f %9s %9s %8.0f %10s%s\n", i+1, t.label(), r.rate(), r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond),
				float64(r.rss)/(1<<20), r.cpuPer().Round(time.Microsecond), shed)
		}
	}
	summarize(env, results)
	return nil
}

// summarize prints each server's median round and the ratios to OPA.
func summarize(env *environment, results map[string][]round) {
	median := func(rs []round, f func(round) float64) float64 {
		v := make([]float64, 0, len(rs))
		for _, r := range rs {
			v = append(v, f(r))
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	fmt.Printf("\nmedian of the rounds\n%-28s %10s %9s %9s %12s %12s\n", "server", "decisions/s", "p50 ms", "p99 ms", "peak RSS MiB", "vs OPA")
	for _, t := range env.targets {
		rs := results[t.label()]
		opa := results[opaName+" "+t.path]
		rate := median(rs, round.rate)
		p50 := median(rs, func(r round) float64 { return float64(r.p50) / 1e6 })
		p99 := median(rs, func(r round) float64 { return float64(r.p99) / 1e6 })
		_, peak := t.proc.rss()
		ratio := "—"
		if t.name != opaName && len(opa) > 0 {
			ratio = fmt.Sprintf("%.2f×, p99 %.2f×", rate/median(opa, round.rate), p99/median(opa, func(r round) float64 { return float64(r.p99) / 1e6 }))
		}
		if logged := results[opaLogsName+" "+t.path]; t.name != opaName && t.name != opaLogsName && len(logged) > 0 {
			ratio += fmt.Sprintf("; vs OPA with decision logs %.2f×", rate/median(logged, round.rate))
		}
		fmt.Printf("%-28s %10.0f %9.2f %9.2f %12.0f %s\n", t.label(), rate, p50, p99, float64(peak)/(1<<20), ratio)
	}
}
