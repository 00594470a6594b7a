package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// scrape returns the metric families of /metrics by name, with their
// sample lines.
func scrape(t *testing.T, h http.Handler) map[string][]string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	families := map[string][]string{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			families[strings.Fields(name)[0]] = nil
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if _, known := families[base]; known {
					name = base
				}
			}
		}
		families[name] = append(families[name], line)
	}
	return families
}

// TestMetricsAtZeroFromStart: before any request the series alerts and
// dashboards divide by are there, at zero, for every provider.
func TestMetricsAtZeroFromStart(t *testing.T) {
	a := startApp(t, map[string]string{"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin})
	families := scrape(t, a.Server.Handler())
	for _, want := range []string{
		`agentgate_decisions_total{agent_type="coding",effective="deny",outcome="deny",provider="github"} 0`,
		`agentgate_decisions_total{agent_type="deployment",effective="approval_required",outcome="approval_required",provider="argo"} 0`,
		`agentgate_webhook_requests_total{provider="gitlab",result="unauthenticated"} 0`,
		`agentgate_rollbacks_total{provider="github",source="alert",state="failed"} 0`,
		`agentgate_quota_rejections_total{agent_type="coding",quota="builds_per_hour"} 0`,
		`agentgate_anomaly_trips_total{reason="denials"} 0`,
		`agentgate_enforcement_failures_total{action="enforce",provider="github"} 0`,
		`agentgate_policy_reloads_total{result="failure"} 0`,
		`agentgate_decision_duration_seconds_count{provider="generic"} 0`,
		`agentgate_policy_last_reload_ok 1`,
		`agentgate_registry_cache_live 1`,
	} {
		name := want[:strings.IndexAny(want, "{ ")]
		name = strings.TrimSuffix(name, "_count")
		found := false
		for _, line := range families[name] {
			found = found || line == want
		}
		if !found {
			t.Errorf("no %s at start; %s has %d series", want, name, len(families[name]))
		}
	}
}

// TestDashboardQueriesExportedMetrics: every query of the shipped Grafana
// dashboard names metrics the service exports.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "agentgate-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	families := exportedFamilies(t)
	if len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkExported(t, families, "panel "+p.Title, tg.Expr)
		}
	}
}

// TestAlertingRules: the shipped rule file passes promtool's check and
// its unit tests (testdata/rules_test.yaml), and every agentgate metric
// its expressions name is exported.
func TestAlertingRules(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "helm", "agentgate", "files", "agentgate-rules.yaml")
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool (Debian's prometheus package) is not installed and CI=true")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// The rules' own unit tests (alerts that must fire and must not).
	if out, err := exec.Command(promtool, "test", "rules", filepath.Join("testdata", "rules_test.yaml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	families := exportedFamilies(t)
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			n++
			checkExported(t, families, "alert "+r.Alert, r.Expr)
		}
	}
	if n == 0 {
		t.Fatal("no rules")
	}
}

// exportedFamilies scrapes a fresh service that has answered one request.
func exportedFamilies(t *testing.T) map[string][]string {
	t.Helper()
	a := startApp(t, map[string]string{"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin})
	h := a.Server.Handler()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	return scrape(t, h)
}

var metricName = regexp.MustCompile(`agentgate_[a-z_]+`)

// checkExported fails unless expr names agentgate metrics and each is exported.
func checkExported(t *testing.T, families map[string][]string, what, expr string) {
	t.Helper()
	metrics := metricName.FindAllString(expr, -1)
	if len(metrics) == 0 && !strings.Contains(expr, "up{") {
		t.Errorf("%s: %q names no agentgate metric", what, expr)
	}
	for _, m := range metrics {
		base := m
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if _, ok := families[base]; !ok {
			t.Errorf("%s uses %s, which /metrics does not export", what, m)
		}
	}
}
