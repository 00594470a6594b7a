package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil/pgtest"
)

const realAlertToken = "alert-token-real-0123456789"

// startAlertmanager runs Debian's prometheus-alertmanager, without
// clustering, sending every group of agentgate alerts to each webhook URL
// with a repeat every two seconds while the alerts fire.
func startAlertmanager(t *testing.T, webhooks ...string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		bin, err = exec.LookPath("alertmanager")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus-alertmanager is not installed and CI=true")
		}
		t.Skip("prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)")
	}
	dir := t.TempDir()
	cfg := `route:
  receiver: agentgate
  group_by: [agentgate_provider, agentgate_repo, agentgate_environment]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: agentgate
    webhook_configs:
`
	for _, u := range webhooks {
		cfg += fmt.Sprintf("      - url: %s/webhooks/alertmanager\n        send_resolved: true\n        http_config:\n          authorization:\n            credentials: %s\n", u, realAlertToken)
	}
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("alertmanager log:\n%s", b)
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("alertmanager did not become ready")
		}
	}
}

// postAlerts sends alerts to Alertmanager's v2 API, firing from startsAt
// until endsAt (resolved when endsAt has passed).
func postAlerts(t *testing.T, am string, startsAt, endsAt time.Time, names ...string) {
	t.Helper()
	var alerts []map[string]any
	for _, n := range names {
		alerts = append(alerts, map[string]any{
			"labels": map[string]string{"alertname": n, "severity": "page", "agentgate_provider": "github",
				"agentgate_repo": "acme/api", "agentgate_environment": "staging"},
			"annotations":  map[string]string{"summary": n + " on acme/api in staging"},
			"startsAt":     startsAt.UTC().Format(time.RFC3339Nano),
			"endsAt":       endsAt.UTC().Format(time.RFC3339Nano),
			"generatorURL": "http://prometheus.example/graph",
		})
	}
	b, _ := json.Marshal(alerts)
	resp, err := http.Post(am+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alertmanager took the alerts with %s", resp.Status)
	}
}

// countingHandler counts Alertmanager notifications by payload status.
type countingHandler struct {
	h                 http.Handler
	firing, resolved  atomic.Int32
	answeredNotOK     atomic.Int32
	lastNotOKResponse atomic.Value
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/webhooks/alertmanager" {
		c.h.ServeHTTP(w, r)
		return
	}
	body, _ := readAllAndRestore(r)
	var p struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(body, &p)
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"problems"`) {
		c.answeredNotOK.Add(1)
		c.lastNotOKResponse.Store(rec.Body.String() + string(body))
	}
	switch p.Status {
	case "firing":
		c.firing.Add(1)
	case "resolved":
		c.resolved.Add(1)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func readAllAndRestore(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r.Body)
	r.Body.Close()
	r.Body = nopCloser{bytes.NewReader(buf.Bytes())}
	return buf.Bytes(), err
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestRealAlertmanagerOneIncidentOneRollback: two replicas on one
// PostgreSQL both receive every notification of a real Alertmanager (two
// alerts in one group, repeated every two seconds). The incident gets one
// rollback and the agent one consequence (an established agent is demoted
// once, not demoted again and killed). Once the alerts resolved and the
// incident window passed, the same deployment spiking again is a new
// incident with a new rollback.
func TestRealAlertmanagerOneIncidentOneRollback(t *testing.T) {
	dsn := pgtest.DSN(t)
	prom, gh, ghSrv := rollbackFakes(t)
	env := func() map[string]string {
		return map[string]string{
			"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
			"ADMISSION_STORE_DRIVER": "postgres", "ADMISSION_STORE_POSTGRES_DSN": dsn,
			"ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret, "ADMISSION_GITHUB_TOKEN": "gh-test-token", "ADMISSION_GITHUB_BASE_URL": ghSrv.URL + "/",
			"ADMISSION_ROLLBACK_PROMETHEUS_URL": prom.URL, "ADMISSION_ROLLBACK_ALERTMANAGER_TOKEN": realAlertToken,
			"ADMISSION_ROLLBACK_INCIDENT_WINDOW": "3s",
		}
	}
	var replicas []*countingHandler
	var urls []string
	var first *e2e
	for i := range 2 {
		a := startApp(t, env())
		c := &countingHandler{h: a.Server.Handler()}
		srv := httptest.NewServer(c)
		t.Cleanup(srv.Close)
		replicas, urls = append(replicas, c), append(urls, srv.URL)
		if i == 0 {
			first = &e2e{t: t, h: a.Server.Handler(), gh: gh, api: ghSrv.URL + "/"}
		}
	}
	e := first
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "ship-bot", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"staging"}, "principals": []string{"github:Codertocat"}}, http.StatusCreated, nil)
	e.deliver("deployment_status", e.fixture("deployment_status.success"), true)
	time.Sleep(10 * time.Millisecond)
	e.deliver("deployment_status", e.fixture("deployment_status.success", "145988746", "145988747", "289782451", "289782452",
		"3484a3fb816e0859fd6e1cea078d76385ff50625", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), true)
	gh.take()

	am := startAlertmanager(t, urls...)
	started := time.Now()
	postAlerts(t, am, started, started.Add(10*time.Minute), "HighErrorRate", "LatencySLOBurn")
	// Wait for the first notification and at least three repeats at each replica.
	waitFor(t, 30*time.Second, "four firing notifications at each replica", func() bool {
		return replicas[0].firing.Load() >= 4 && replicas[1].firing.Load() >= 4
	})
	for i, r := range replicas {
		if n := r.answeredNotOK.Load(); n > 0 {
			t.Fatalf("replica %d answered %d notifications with an error, last: %v", i, n, r.lastNotOKResponse.Load())
		}
	}
	reruns := func() int {
		n := 0
		for _, c := range gh.take() {
			if strings.HasPrefix(c, "POST /repos/acme/api/actions/runs/289782451/rerun") {
				n++
			}
		}
		return n
	}
	if n := reruns(); n != 1 {
		t.Fatalf("GitHub saw %d reruns for one incident, want 1", n)
	}
	type auditList struct {
		Items []struct {
			Message string `json:"message"`
		} `json:"items"`
	}
	var recs auditList
	e.call(http.MethodGet, "/api/v1/audit?kind=rollback", nil, http.StatusOK, &recs)
	if len(recs.Items) != 1 || !strings.HasPrefix(recs.Items[0].Message, "rollback succeeded of bbbbbbb") {
		t.Fatalf("rollback audit for one incident = %+v, want one succeeded rollback", recs.Items)
	}
	var ag struct {
		Tier  string `json:"tier"`
		State string `json:"state"`
	}
	e.call(http.MethodGet, "/api/v1/agents/ship-bot", nil, http.StatusOK, &ag)
	if ag.Tier != "new" || ag.State != "active" {
		t.Fatalf("agent after one incident: tier %s, state %s; want demoted once to new and still active", ag.Tier, ag.State)
	}
	var demotions auditList
	e.call(http.MethodGet, "/api/v1/audit?kind=promotion", nil, http.StatusOK, &demotions)
	n := 0
	for _, r := range demotions.Items {
		if strings.Contains(r.Message, "rolled back automatically") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d consequences audited for one incident, want 1: %+v", n, demotions.Items)
	}

	// The alerts resolve; once the incident window passed, the same
	// deployment spiking again is a new incident.
	before := replicas[0].resolved.Load()
	postAlerts(t, am, started, time.Now(), "HighErrorRate", "LatencySLOBurn")
	waitFor(t, 30*time.Second, "a resolved notification", func() bool { return replicas[0].resolved.Load() > before })
	time.Sleep(3500 * time.Millisecond)
	postAlerts(t, am, time.Now(), time.Now().Add(10*time.Minute), "HighErrorRate")
	waitFor(t, 30*time.Second, "a second rerun", func() bool {
		for _, c := range gh.peek() {
			if strings.Contains(c, "/rerun") {
				return true
			}
		}
		return false
	})
	fired := replicas[0].firing.Load()
	waitFor(t, 30*time.Second, "three more firing notifications", func() bool { return replicas[0].firing.Load() >= fired+3 })
	if n := reruns(); n != 1 {
		t.Fatalf("GitHub saw %d reruns for the second incident, want 1", n)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
