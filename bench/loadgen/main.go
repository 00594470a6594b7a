// Command loadgen posts signed generic webhooks to a running agentgate and
// prints throughput and latency percentiles.
//
// It provisions its own agents through the API (so it needs an admin token),
// then sends -n events from -c workers. Every request is a full admission
// decision: identification, policy, quota charge and the durable audit
// append. Targets are limited to loopback addresses, and the run is bounded
// by -n and -timeout.
//
//	go run ./bench/loadgen -server http://127.0.0.1:8080 -secret S -token T -n 20000 -c 16
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/bench/internal/shed"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/generic"
)

type options struct {
	server  string
	secret  string
	token   string
	n       int
	c       int
	agents  int
	timeout time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.server, "server", "http://127.0.0.1:8080", "agentgate URL (loopback only)")
	flag.StringVar(&o.secret, "secret", os.Getenv("ADMISSION_WEBHOOKS_GENERIC_SECRET"), "generic webhook secret")
	flag.StringVar(&o.token, "token", os.Getenv("ADMISSION_TOKEN"), "admin API token, to provision the load's agents")
	flag.IntVar(&o.n, "n", 10000, "number of webhooks to send")
	flag.IntVar(&o.c, "c", 8, "concurrent workers")
	flag.IntVar(&o.agents, "agents", 50, "agents to spread the load over (trusted coding agents)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "stop after this long whatever is left")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if err := loopbackOnly(o.server); err != nil {
		return err
	}
	if o.secret == "" || o.token == "" {
		return errors.New("-secret and -token (or ADMISSION_WEBHOOKS_GENERIC_SECRET and ADMISSION_TOKEN) are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.c * 2}}
	run := time.Now().UnixNano()
	principals := make([]string, o.agents)
	for i := range principals {
		name := fmt.Sprintf("load-%d-%d", run%1e6, i)
		principals[i] = "github:" + name + "[bot]"
		spec := map[string]any{"name": name, "type": "coding", "owner": "loadgen", "tier": "trusted",
			"capabilities": []string{"build"}, "environments": []string{"staging"}, "principals": []string{principals[i]}}
		if err := post(ctx, client, o.server+"/api/v1/agents", spec, map[string]string{"Authorization": "Bearer " + o.token}, http.StatusCreated); err != nil {
			return fmt.Errorf("provision agent: %w", err)
		}
	}
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, o.n)
		outcomes  = map[string]int{}
		failures  atomic.Int64
		sheds     atomic.Int64
		cut       atomic.Int64
		wg        sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < o.c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(o.n) {
					return
				}
				body, _ := json.Marshal(map[string]any{"kind": "build", "action": "requested", "repo": "acme/api",
					"sha": fmt.Sprintf("%040x", i), "principal": principals[int(i)%len(principals)],
					"trigger": map[string]any{"prompt": "load test", "source": "loadgen"}})
				delivery := fmt.Sprintf("load-%d-%d", run, i)
				t0 := time.Now()
				outcome, err := decide(ctx, client, o, delivery, body)
				// Refused for want of a slot (503, Retry-After): wait as
				// told and send the same delivery again, as a sender would.
				for after, refused := shed.Of(err); refused && ctx.Err() == nil; after, refused = shed.Of(err) {
					sheds.Add(1)
					shed.Wait(ctx, after)
					outcome, err = decide(ctx, client, o, delivery, body)
				}
				took := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					cut.Add(1) // cut off by -timeout, not failed
					break
				}
				if err != nil {
					failures.Add(1)
					continue
				}
				mu.Lock()
				latencies = append(latencies, took)
				outcomes[outcome]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))]
	}
	fmt.Printf("requests   %d ok, %d failed in %s (%d workers, %d agents)\n", len(latencies), failures.Load(), elapsed.Round(time.Millisecond), o.c, o.agents)
	fmt.Printf("throughput %.0f decisions/s\n", float64(len(latencies))/elapsed.Seconds())
	fmt.Printf("latency    p50 %s  p90 %s  p99 %s  max %s\n", pct(.50), pct(.90), pct(.99), pct(1))
	fmt.Printf("outcomes   %v\n", outcomes)
	if n := cut.Load(); n > 0 {
		fmt.Printf("cut off    %d requests still open when -timeout came (not counted)\n", n)
	}
	if n := sheds.Load(); n > 0 {
		fmt.Printf("shed       %d answers 503 with Retry-After, each sent again after the delay (latency includes it)\n", n)
	}
	if failures.Load() > 0 {
		return fmt.Errorf("%d requests failed", failures.Load())
	}
	return nil
}

func decide(ctx context.Context, c *http.Client, o options, delivery string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.server+"/webhooks/generic", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set(generic.HeaderDelivery, delivery)
	req.Header.Set(generic.HeaderSignature, providers.SignHMACSHA256([]byte(o.secret), body))
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var ans struct {
		Decisions []struct {
			Outcome string `json:"outcome"`
		} `json:"decisions"`
	}
	if err := shed.Check(resp); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || len(ans.Decisions) != 1 {
		return "", fmt.Errorf("bad answer: %v", err)
	}
	return ans.Decisions[0].Outcome, nil
}

func post(ctx context.Context, c *http.Client, u string, v any, headers map[string]string, want int) error {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: status %d: %s", u, resp.StatusCode, body)
	}
	return nil
}

// loopbackOnly refuses targets that are not on this machine.
func loopbackOnly(server string) error {
	u, err := url.Parse(server)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-server %s: only loopback targets are allowed", server)
	}
	return nil
}
