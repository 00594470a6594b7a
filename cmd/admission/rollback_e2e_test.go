package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

// TestRollbackAPIAndAlertmanager: an SRE rollback and an Alertmanager alert
// each re-run the previous successful GitHub deployment of an agent, and
// both are audited.
func TestRollbackAPIAndAlertmanager(t *testing.T) {
	prom, gh, ghSrv := rollbackFakes(t)
	sl := &fakeSlack{}
	slackSrv := httptest.NewServer(sl)
	t.Cleanup(slackSrv.Close)
	env := map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_WEBHOOKS_GITHUB_SECRET": e2eSecret, "ADMISSION_GITHUB_TOKEN": "gh-test-token", "ADMISSION_GITHUB_BASE_URL": ghSrv.URL + "/",
		"ADMISSION_ROLLBACK_PROMETHEUS_URL": prom.URL, "ADMISSION_ROLLBACK_ALERTMANAGER_TOKEN": "alert-token-0123456789",
		"ADMISSION_SLACK_BOT_TOKEN": "xoxb-test", "ADMISSION_SLACK_SIGNING_SECRET": slackSigning, "ADMISSION_SLACK_CHANNEL": "C0PROD",
		"ADMISSION_SLACK_API_URL": slackSrv.URL + "/api/",
	}
	a := startApp(t, env)
	e := &e2e{t: t, h: a.Server.Handler(), gh: gh, api: ghSrv.URL + "/"}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "ship-bot", "type": "deployment", "owner": "platform",
		"capabilities": []string{"deploy"}, "environments": []string{"staging"}, "principals": []string{"github:Codertocat"}}, http.StatusCreated, nil)

	// Two successful deployments: the previous good one (run 289782451), then the new one.
	e.deliver("deployment_status", e.fixture("deployment_status.success"), true)
	time.Sleep(10 * time.Millisecond)
	e.deliver("deployment_status", e.fixture("deployment_status.success", "145988746", "145988747", "289782451", "289782452",
		"3484a3fb816e0859fd6e1cea078d76385ff50625", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), true)

	// Each agent deployment is watched; the list names the agent.
	var watches struct {
		Items []struct {
			SHA       string `json:"sha"`
			Agent     string `json:"agent"`
			State     string `json:"state"`
			Query     string `json:"query"`
			NextCheck string `json:"next_check"`
		} `json:"items"`
	}
	e.call(http.MethodGet, "/api/v1/rollback/watches", nil, http.StatusOK, &watches)
	if len(watches.Items) != 2 || watches.Items[0].Agent != "ship-bot" || watches.Items[0].State != "watching" ||
		!strings.Contains(watches.Items[0].Query, `namespace="staging"`) || watches.Items[0].NextCheck == "" {
		t.Fatalf("watches after two agent deployments = %+v", watches.Items)
	}

	var rb struct {
		ID    string `json:"id"`
		State string `json:"state"`
		To    struct {
			SHA string `json:"sha"`
		} `json:"to"`
	}
	e.call(http.MethodPost, "/api/v1/rollbacks", map[string]any{"provider": "github", "repo": "acme/api", "environment": "staging", "reason": "5xx up"}, http.StatusAccepted, &rb)
	if rb.To.SHA != "3484a3fb816e0859fd6e1cea078d76385ff50625" {
		t.Fatalf("rollback target = %+v", rb)
	}
	calls := gh.waitCalls(t, 1)
	if !strings.HasPrefix(calls[0], "POST /repos/acme/api/actions/runs/289782451/rerun") {
		t.Fatalf("GitHub saw %v", calls)
	}
	waitState(t, e, rb.ID, "succeeded")
	announced := strings.Join(sl.wait(t, "chat.postMessage"), "\n")
	if !strings.Contains(announced, "rolled+back") || !strings.Contains(announced, "ship-bot") {
		t.Fatalf("Slack was not told about the rollback: %s", announced)
	}

	// Alertmanager: refused without the token, then a firing alert rolls back.
	alert := func(token string) int {
		body, _ := os.ReadFile(fixtures.Path("alertmanager", "alertmanager-agentgate-firing.json"))
		s := strings.NewReplacer(`"agentgate_repo": "shop/checkout"`, `"agentgate_repo": "acme/api"`,
			`"agentgate_environment": "production"`, `"agentgate_environment": "staging"`,
			"2026-11-22T01:46:52.895Z", time.Now().UTC().Format(time.RFC3339Nano)).Replace(string(body))
		req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader([]byte(s)))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := alert("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token = %d", code)
	}
	if code := alert("alert-token-0123456789"); code != http.StatusOK {
		t.Fatalf("alert = %d", code)
	}
	calls = gh.waitCalls(t, 1)
	if !strings.HasPrefix(calls[0], "POST /repos/acme/api/actions/runs/289782451/rerun") {
		t.Fatalf("GitHub saw %v after the alert", calls)
	}
	var recs struct {
		Items []struct {
			Message string `json:"message"`
		} `json:"items"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e.call(http.MethodGet, "/api/v1/audit?kind=rollback", nil, http.StatusOK, &recs)
		if len(recs.Items) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The SRE rollback, the alert's rollback, and the fixture's second
	// alert, labelled agentgate_action=notify, which only reports.
	var succeeded, notified int
	for _, r := range recs.Items {
		switch {
		case strings.HasPrefix(r.Message, "rollback succeeded of bbbbbbb"):
			succeeded++
		case strings.HasPrefix(r.Message, "alert reported, no rollback"):
			notified++
		}
	}
	if succeeded != 2 || notified != 1 {
		t.Fatalf("rollback audit = %+v", recs.Items)
	}
	// The policy's consequence for a new agent after an automatic (alert)
	// rollback is its kill switch; the SRE's request had none.
	var ag struct {
		State string `json:"state"`
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		e.call(http.MethodGet, "/api/v1/agents/ship-bot", nil, http.StatusOK, &ag)
		if ag.State == "killed" {
			break
		}
	}
	if ag.State != "killed" {
		t.Fatalf("agent state after an automatic rollback = %s, want killed (policy on_rollback for tier new)", ag.State)
	}
	// The switch says the rollback pulled it, not a person.
	var switches struct {
		Items []struct {
			Source    string `json:"source"`
			EngagedBy string `json:"engaged_by"`
		} `json:"items"`
	}
	e.call(http.MethodGet, "/api/v1/killswitches", nil, http.StatusOK, &switches)
	if len(switches.Items) != 1 || switches.Items[0].Source != "rollback" || switches.Items[0].EngagedBy != "rollback" {
		t.Fatalf("kill switches after the rollback = %+v, want one of source rollback", switches.Items)
	}

	// Both rollbacks are listed, the alert's first; the console shows them
	// and the watches with the agent's name.
	var list struct {
		Items []struct {
			ID          string `json:"id"`
			RequestedBy string `json:"requested_by"`
			State       string `json:"state"`
			Target      struct {
				Source string `json:"source"`
			} `json:"target"`
		} `json:"items"`
	}
	e.call(http.MethodGet, "/api/v1/rollbacks", nil, http.StatusOK, &list)
	if len(list.Items) != 2 || list.Items[0].Target.Source != "alert" || list.Items[1].ID != rb.ID ||
		list.Items[1].RequestedBy != "bootstrap-admin" || list.Items[1].State != "succeeded" {
		t.Fatalf("rollbacks listed = %+v, want the alert's then the SRE's %s", list.Items, rb.ID)
	}
	page := consolePage(t, e.h, e2eAdmin, "/ui/rollbacks?all=1")
	for _, want := range []string{`id="watches"`, ">ship-bot</a>", "bbbbbbbbbbbb", "3484a3fb816e", "5xx up", "bootstrap-admin", "alertmanager", "succeeded"} {
		if !strings.Contains(page, want) {
			t.Errorf("the console's rollbacks page lacks %q", want)
		}
	}
}

// consolePage signs in to the web console with an API token, as a
// browser does (the sign-in form's token and cookie), and returns a page.
func consolePage(t *testing.T, h http.Handler, token, path string) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	read := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s answered %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b)
		}
		return string(b)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(read(c.Get(srv.URL + "/ui/login")))
	if m == nil {
		t.Fatal("the sign-in form has no token")
	}
	read(c.PostForm(srv.URL+"/ui/login", url.Values{"csrf": {m[1]}, "token": {token}}))
	return read(c.Get(srv.URL + path))
}

func waitState(t *testing.T, e *e2e, id, want string) {
	t.Helper()
	var rb struct {
		State string `json:"state"`
		Error string `json:"error"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e.call(http.MethodGet, "/api/v1/rollbacks/"+id, nil, http.StatusOK, &rb)
		if rb.State == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("rollback %s is %s (%s), want %s", id, rb.State, rb.Error, want)
}

// rollbackFakes are what a rollback test runs against: a Prometheus HTTP
// API whose every query has no data (watches open and see nothing) and a
// GitHub API that records calls.
func rollbackFakes(t *testing.T) (prom *httptest.Server, gh *fakeGitHub, ghSrv *httptest.Server) {
	t.Helper()
	prom = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}))
	t.Cleanup(prom.Close)
	gh = &fakeGitHub{}
	ghSrv = httptest.NewServer(gh)
	t.Cleanup(ghSrv.Close)
	return prom, gh, ghSrv
}
