package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// admissionRequest turns the agent's Workflow fixture into the review the
// kube-apiserver sends for a Workflow it named (generateName resolved).
func admissionRequest(t *testing.T, uid, name string) []byte {
	t.Helper()
	return admissionRequestIn(t, "agents", uid, name)
}

// admissionRequestIn is admissionRequest in another namespace, by the
// agent's service account there.
func admissionRequestIn(t *testing.T, ns, uid, name string) []byte {
	t.Helper()
	var review map[string]any
	if err := json.Unmarshal(argoFixture(t, "admission", "workflow.create.agent.json"), &review); err != nil {
		t.Fatal(err)
	}
	req := review["request"].(map[string]any)
	req["uid"], req["namespace"] = uid, ns
	req["userInfo"].(map[string]any)["username"] = "system:serviceaccount:" + ns + ":claude-bot"
	meta := req["object"].(map[string]any)["metadata"].(map[string]any)
	meta["name"], meta["uid"], meta["namespace"] = name, "uid-"+name, ns
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// watchedAgent is agentgate with the Workflow watch running against a fake
// Kubernetes API, and a new data-pipeline agent (5 running Workflows at
// most) whose Workflows submit admits and, when admitted, stores as
// Running.
type watchedAgent struct {
	e      *e2e
	kube   *fakeKube
	submit func() (name string, allowed bool, message string)
}

func newWatchedAgent(t *testing.T, setup ...func(*fakeKube)) watchedAgent {
	t.Helper()
	kube := newFakeKube(t)
	for _, f := range setup {
		f(kube)
	}
	a := startApp(t, map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
		"ADMISSION_ARGO_WATCH_ENABLED": "true", "ADMISSION_ARGO_WATCH_KUBECONFIG": kube.kubeconfig(),
		"ADMISSION_ARGO_WATCH_NAMESPACES": "agents",
	})
	if a.WorkflowWatch == nil {
		t.Fatal("argo.watch.enabled true built no watch")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.WorkflowWatch.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	select {
	case ns := <-kube.watches:
		if ns != "agents" {
			t.Fatalf("watching namespace %q, want agents", ns)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agentgate never watched Workflows")
	}

	e := &e2e{t: t, h: a.Server.Handler()}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(metrics(e), "agentgate_workflow_watch_synced 1"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("agentgate_workflow_watch_synced never became 1:\n%s", metrics(e))
		}
	}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "claude-bot", "type": "data-pipeline", "owner": "data-team",
		"capabilities": []string{"workflow"}, "namespaces": []string{"agents"}, "labels": map[string]string{"argo.service_accounts": "agent-runner"},
		"principals": []string{"k8s:system:serviceaccount:agents:claude-bot"}}, http.StatusCreated, nil)
	n := 0
	submit := func() (string, bool, string) {
		t.Helper()
		n++
		name := fmt.Sprintf("hello-world-%03d", n)
		a := admit(t, e.h, admissionRequest(t, fmt.Sprintf("review-%03d", n), name))
		if a.Allowed {
			kube.put("agents", name, "Running") // the kube-apiserver stores it, the controller runs it
		}
		return name, a.Allowed, a.Message
	}
	return watchedAgent{e: e, kube: kube, submit: submit}
}

// TestArgoWorkflowLeases runs agentgate with the Workflow watch against a
// Kubernetes API server over HTTP (kubeconfig, bearer token, client-go
// informers): a new data-pipeline agent may run 5 Workflows at once; the
// sixth is refused until one of the five finishes in the cluster, and a
// deleted one gives its place back too.
func TestArgoWorkflowLeases(t *testing.T) {
	w := newWatchedAgent(t)
	e, kube, submit := w.e, w.kube, w.submit
	var running []string
	for range 5 {
		name, ok, msg := submit()
		if !ok {
			t.Fatalf("workflow %s refused within the limit: %s", name, msg)
		}
		running = append(running, name)
	}
	if _, ok, msg := submit(); ok || !strings.Contains(msg, "quota.concurrent_workflows: quota concurrent_workflows exhausted: 5 of 5 in use; a slot frees when one of your 5 running workflows finishes") ||
		strings.Contains(msg, "retry in") {
		t.Fatalf("sixth running workflow: allowed=%v %q, want refused saying a slot frees when a running workflow finishes", ok, msg)
	}

	// One finishes: its place comes back once the watch has seen it.
	kube.put("agents", running[0], "Succeeded")
	waitReleases(e, 1)
	if name, ok, msg := submit(); !ok {
		t.Fatalf("workflow %s refused after one finished: %s", name, msg)
	}
	// One is deleted while running: the same.
	kube.remove("agents", running[1])
	recs := waitReleases(e, 2)
	if name, ok, msg := submit(); !ok {
		t.Fatalf("workflow %s refused after one was deleted: %s", name, msg)
	}
	if _, ok, _ := submit(); ok {
		t.Fatal("a sixth running workflow was admitted")
	}
	if !strings.Contains(metrics(e), `agentgate_leases_released_total{cause="completed",quota="concurrent_workflows"} 1`) ||
		!strings.Contains(metrics(e), `agentgate_leases_released_total{cause="deleted",quota="concurrent_workflows"} 1`) {
		t.Fatalf("release metrics:\n%s", metrics(e))
	}
	if recs[0].Repo != "agents/"+running[0] || recs[0].Details["cause"] != "completed" || recs[0].Details["phase"] != "Succeeded" ||
		recs[1].Repo != "agents/"+running[1] || recs[1].Details["cause"] != "deleted" || recs[0].AgentName != "claude-bot" || recs[0].Owner != "data-team" {
		t.Fatalf("release records %+v", recs)
	}
}

type releaseRecord struct {
	AgentName string            `json:"agent_name"`
	Owner     string            `json:"owner"`
	Repo      string            `json:"repo"`
	Details   map[string]string `json:"details"`
}

// waitReleases waits until the audit log holds n release records: the
// watch releases a lease moments after the cluster changes.
func waitReleases(e *e2e, n int) []releaseRecord {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct {
			Items []releaseRecord `json:"items"`
		}
		e.call(http.MethodGet, "/api/v1/audit?kind=release", nil, http.StatusOK, &page)
		switch {
		case len(page.Items) > n:
			e.t.Fatalf("%d release records, want %d: %+v", len(page.Items), n, page.Items)
		case len(page.Items) == n:
			return page.Items
		case time.Now().After(deadline):
			e.t.Fatalf("%d release records after 20s, want %d", len(page.Items), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestArgoWatchModes: with enabled auto, a cluster that does not serve
// Workflows (no Argo Workflows CRDs) gets no watch; with true, the watch is
// built anyway and keeps retrying; with false there is none.
func TestArgoWatchModes(t *testing.T) {
	tests := []struct {
		name    string
		enabled string
		absent  bool
		want    bool
	}{
		{name: "auto with Workflows served", enabled: "auto", want: true},
		{name: "auto without Argo Workflows", enabled: "auto", absent: true, want: false},
		{name: "true without Argo Workflows", enabled: "true", absent: true, want: true},
		{name: "false", enabled: "false", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kube := newFakeKube(t)
			kube.absent = tc.absent
			a := startApp(t, map[string]string{
				"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin,
				"ADMISSION_ARGO_WATCH_ENABLED": tc.enabled, "ADMISSION_ARGO_WATCH_KUBECONFIG": kube.kubeconfig(),
			})
			if got := a.WorkflowWatch != nil; got != tc.want {
				t.Fatalf("watch built: %v, want %v", got, tc.want)
			}
		})
	}
}

// metrics scrapes /metrics.
func metrics(e *e2e) string {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("/metrics = %d", rec.Code)
	}
	return rec.Body.String()
}
