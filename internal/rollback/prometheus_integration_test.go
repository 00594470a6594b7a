package rollback

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// exporter serves http_requests_total for one app in the Prometheus text
// format; every scrape adds 100 requests, errRatio of them 5xx.
type exporter struct {
	mu       sync.Mutex
	app      string
	errRatio float64
	ok, bad  float64
	srv      *httptest.Server
}

func newExporter(t *testing.T, app string, ratio float64) *exporter {
	e := &exporter{app: app, errRatio: ratio}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		e.bad += 100 * e.errRatio
		e.ok += 100 * (1 - e.errRatio)
		ok, bad := e.ok, e.bad
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE http_requests_total counter\nhttp_requests_total{app=%q,code=\"200\"} %g\nhttp_requests_total{app=%q,code=\"500\"} %g\n", e.app, ok, e.app, bad)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *exporter) set(r float64) { e.mu.Lock(); e.errRatio = r; e.mu.Unlock() }

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs a real Prometheus scraping the exporters every second.
func startPrometheus(t *testing.T, exps ...*exporter) string {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed and CI=true")
		}
		t.Skip("prometheus binary not installed (apt-get install prometheus); skipping the real-Prometheus integration test")
	}
	dir := t.TempDir()
	cfg := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
	for _, e := range exps {
		u, _ := url.Parse(e.srv.URL)
		cfg += fmt.Sprintf("  - job_name: %s\n    static_configs:\n      - targets: ['%s']\n", e.app, u.Host)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait(); _ = logf.Close() })
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus not ready: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRealPrometheus(t *testing.T) {
	spike := newExporter(t, "spike", 0.01)
	flat := newExporter(t, "flat", 0.01)
	base := startPrometheus(t, spike, flat)
	q, err := NewPromQuerier(base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	query := `sum(rate(http_requests_total{app="{{.App}}",code=~"5.."}[4s])) / sum(rate(http_requests_total{app="{{.App}}"}[4s]))`
	ctx := context.Background()
	// Wait for the first rates.
	for deadline := time.Now().Add(15 * time.Second); ; {
		ready := 0
		for _, app := range []string{"flat", "spike"} {
			r, _ := RenderQuery(query, QueryVars{App: app})
			if _, ok, err := q.Query(ctx, r, time.Now()); err == nil && ok {
				ready++
			}
		}
		if ready == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus has no rates after 15s")
		}
		time.Sleep(250 * time.Millisecond)
	}

	gh := &timedExecutor{}
	now := time.Now()
	var hist []store.Deployment
	for _, app := range []string{"spike", "flat", "ghost"} {
		hist = append(hist,
			store.Deployment{ID: app + "-2", Provider: "github", Repo: "shop/" + app, Environment: "production", SHA: "bad", AgentID: "agent-1", At: now},
			store.Deployment{ID: app + "-1", Provider: "github", Repo: "shop/" + app, Environment: "production", SHA: "good",
				Handles: map[string]string{"run_id": "111"}, At: now.Add(-time.Hour)})
	}
	var mu sync.Mutex
	var outcomes []Outcome
	e, err := New(Config{History: &fakeHistory{ds: hist}, Store: NewMemoryStore(), Querier: q,
		Executors: map[string]Executor{"github": gh}, Backoff: 10 * time.Millisecond,
		OnRollback: func(_ context.Context, o Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	s := WatchSpec{Query: query, Threshold: 0.2, BaselineFactor: 5, TripAfter: 2, NoDataAfter: 2, Window: 9 * time.Second, Interval: time.Second}
	ids := map[string]string{}
	for _, d := range []store.Deployment{hist[0], hist[2], hist[4]} {
		w, err := e.Open(ctx, d, s)
		if err != nil {
			t.Fatal(err)
		}
		ids[d.Repo] = w.ID
	}
	spike.set(0.6) // the agent's deploy breaks checkout
	spikeQuery, _ := RenderQuery(query, QueryVars{App: "spike"})
	var visible time.Time // when Prometheus first shows the breach
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if v, ok, err := q.Query(ctx, spikeQuery, time.Now()); visible.IsZero() && err == nil && ok && v > s.Threshold {
			visible = time.Now()
		}
		if _, err := e.Tick(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, id := range ids {
			if w, _ := e.c.Store.GetWatch(ctx, id); w.Live() {
				live++
			}
		}
		if live == 0 {
			break
		}
	}
	want := map[string]State{"shop/spike": StateRolledBack, "shop/flat": StatePassed, "shop/ghost": StateNoData}
	for repo, id := range ids {
		w, _ := e.c.Store.GetWatch(ctx, id)
		t.Logf("%s: state %s baseline %.3f readings %d detail %q", repo, w.State, w.Baseline, len(w.Readings), w.Detail)
		if w.State != want[repo] {
			t.Errorf("%s: state %s, want %s", repo, w.State, want[repo])
		}
	}
	calls, times := gh.recorded()
	if len(calls) != 1 || calls[0].ID != "spike-1" {
		t.Fatalf("rollbacks %+v, want one, to spike-1", calls)
	}
	// A measurement for docs/benchmarks.md, not an assertion: with a 1 s
	// watch interval and trip_after 2 the rollback follows the breach by
	// about one interval plus the tick.
	if !visible.IsZero() {
		t.Logf("breach visible in Prometheus -> rollback call: %s (interval %s, trip_after %d)",
			times[0].Sub(visible).Round(10*time.Millisecond), s.Interval, s.TripAfter)
	}
	if len(outcomes) != 1 || outcomes[0].Rollback.State != RollbackSucceeded || outcomes[0].Rollback.To.ID != "spike-1" {
		t.Fatalf("outcomes %+v", outcomes)
	}
}
