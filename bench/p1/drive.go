package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/bench/internal/shed"
)

// target is one server under load and how to ask it for a decision.
type target struct {
	name string
	// path is the webhook path (generic, github, argo) whose decisions
	// the target makes; OPA has one target per path.
	path string
	proc *process
	// request builds the i-th request.
	request func(ctx context.Context, i int64) (*http.Request, error)
	// allowed reads an answer: nil when it is an allowed decision.
	allowed func(status int, body []byte) error
}

// label names the target in the report: server and path.
func (t *target) label() string { return t.name + " " + t.path }

// round is one timed run against one target.
type round struct {
	target   string
	ok, fail int
	// shed counts answers 503 with Retry-After (the server's bound on
	// decisions in flight); the worker waited as told before its next.
	shed     int
	elapsed  time.Duration
	p50, p99 time.Duration
	rss      int64
	// cpu is the server's CPU time over the round.
	cpu      time.Duration
	firstErr error
}

func (r round) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// cpuPer is the server's CPU time per answered request.
func (r round) cpuPer() time.Duration {
	if r.ok == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.ok)
}

// drive sends requests from workers for d and measures them.
func drive(ctx context.Context, c *http.Client, t *target, workers int, d time.Duration, seq *atomic.Int64) round {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		fails     int
		sheds     int
		firstErr  error
		wg        sync.WaitGroup
	)
	start := time.Now()
	var cpu0 time.Duration
	if t.proc != nil {
		cpu0 = t.proc.cpu()
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			var localFails, localShed int
			var localErr error
			for ctx.Err() == nil {
				i := seq.Add(1)
				t0 := time.Now()
				err := once(ctx, c, t, i)
				took := time.Since(t0)
				if ctx.Err() != nil {
					break // cut off by the end of the round: not counted
				}
				if after, ok := shed.Of(err); ok {
					localShed++
					shed.Wait(ctx, after)
					continue
				}
				if err != nil {
					localFails++
					if localErr == nil {
						localErr = err
					}
					continue
				}
				local = append(local, took)
			}
			mu.Lock()
			latencies = append(latencies, local...)
			fails += localFails
			sheds += localShed
			if firstErr == nil {
				firstErr = localErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := round{target: t.label(), ok: len(latencies), fail: fails, shed: sheds, elapsed: time.Since(start), firstErr: firstErr}
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		r.p50 = latencies[n/2]
		r.p99 = latencies[min(n-1, n*99/100)]
	}
	if t.proc != nil {
		r.rss, _ = t.proc.rss()
		r.cpu = t.proc.cpu() - cpu0
	}
	return r
}

func once(ctx context.Context, c *http.Client, t *target, i int64) error {
	req, err := t.request(ctx, i)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := shed.Check(resp); err != nil {
		return err
	}
	return t.allowed(resp.StatusCode, body)
}

// agentgateAllowed reads a webhook answer: one decision, allowed.
func agentgateAllowed(status int, body []byte) error {
	var ans struct {
		Decisions []struct {
			Outcome string `json:"outcome"`
		} `json:"decisions"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &ans) != nil || len(ans.Decisions) != 1 {
		return fmt.Errorf("agentgate answered %d: %.200s", status, body)
	}
	if o := ans.Decisions[0].Outcome; o != "allow" {
		return fmt.Errorf("agentgate decided %s: %.300s", o, body)
	}
	return nil
}

// opaAllowed reads an OPA Data API answer: a decision that allows.
func opaAllowed(status int, body []byte) error {
	var ans struct {
		Result *struct {
			Allow bool `json:"allow"`
		} `json:"result"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &ans) != nil || ans.Result == nil {
		return fmt.Errorf("opa answered %d: %.200s", status, body)
	}
	if !ans.Result.Allow {
		return fmt.Errorf("opa's decision does not allow: %.300s", body)
	}
	return nil
}
