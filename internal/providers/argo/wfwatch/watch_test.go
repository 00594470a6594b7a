package wfwatch_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/providers/argo/wfwatch"
)

var gvr = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}

// releaser records releases and holds keys like the gate does.
type releaser struct {
	mu       sync.Mutex
	held     map[string]bool
	got      []gate.ReleaseRequest
	failures int // the next N releases fail
	notify   chan gate.ReleaseRequest
}

func newReleaser(keys ...string) *releaser {
	r := &releaser{held: map[string]bool{}, notify: make(chan gate.ReleaseRequest, 64)}
	for _, k := range keys {
		r.held[k] = true
	}
	return r
}

func (r *releaser) ReleaseByKey(_ context.Context, req gate.ReleaseRequest) ([]gate.Released, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return nil, errors.New("store unavailable")
	}
	var out []gate.Released
	if r.held[req.Key] {
		delete(r.held, req.Key)
		out = append(out, gate.Released{AgentID: "ag_1", Quota: req.Quota, Key: req.Key})
		r.got = append(r.got, req)
		r.notify <- req
	}
	return out, nil
}

func (r *releaser) HeldKeys(context.Context, string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.held))
	for k := range r.held {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

func (r *releaser) holds(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held[key]
}

func workflow(ns, name, phase string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Workflow",
		"metadata":   map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name},
		"spec": map[string]any{
			"entrypoint": "main", "serviceAccountName": "etl",
			"templates": []any{map[string]any{"name": "main", "container": map[string]any{"image": "alpine:3.20"}}},
		},
	}}
	if phase != "" {
		_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
		writtenBy(u, wfwatch.DefaultControllerManager)
	}
	return u
}

// writtenBy records in metadata.managedFields, as the API server does,
// that manager wrote status.phase (and is its only owner).
func writtenBy(u *unstructured.Unstructured, manager string) *unstructured.Unstructured {
	u.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: "argo", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "argoproj.io/v1alpha1", FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(`{"f:spec":{".":{},"f:entrypoint":{}}}`)},
		{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "argoproj.io/v1alpha1", FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(`{"f:status":{".":{},"f:phase":{},"f:finishedAt":{}}}`)},
	})
	return u
}

// cluster is a fake API server holding Workflows; started reports each
// watch the informers open, so the test changes objects only once watched.
type cluster struct {
	client  *dynamicfake.FakeDynamicClient
	started chan string
}

func newCluster(objs ...runtime.Object) *cluster {
	c := &cluster{started: make(chan string, 8)}
	c.client = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{
			gvr: "WorkflowList",
			{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflowtemplates"}:        "WorkflowTemplateList",
			{Group: "argoproj.io", Version: "v1alpha1", Resource: "clusterworkflowtemplates"}: "ClusterWorkflowTemplateList",
		}, objs...)
	c.client.PrependWatchReactor("workflows", func(a clienttesting.Action) (bool, watch.Interface, error) {
		ns := a.GetNamespace()
		w, err := c.client.Tracker().Watch(gvr, ns)
		if err != nil {
			return false, nil, err
		}
		c.started <- ns
		return true, w, nil
	})
	return c
}

func (c *cluster) update(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	if _, err := c.client.Resource(gvr).Namespace(u.GetNamespace()).Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func start(t *testing.T, c *cluster, r *releaser, namespaces ...string) *wfwatch.Watcher {
	t.Helper()
	w, _ := startClock(t, c, r, namespaces...)
	return w
}

// startClock starts a watcher on a test clock and waits until it watches
// and has made its first reconcile pass.
func startClock(t *testing.T, c *cluster, r *releaser, namespaces ...string) (*wfwatch.Watcher, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	w, err := wfwatch.New(wfwatch.Options{Client: c.client, Releaser: r, Namespaces: namespaces, Resync: time.Hour, OrphanAfter: time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	want := len(namespaces)
	if want == 0 {
		want = 1
	}
	for range want {
		select {
		case <-c.started:
		case <-time.After(10 * time.Second):
			t.Fatal("the watcher never watched")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); w.Passes() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the watcher never reconciled")
		}
	}
	if !w.Synced() {
		t.Fatal("reconciling but not synced")
	}
	return w, clk
}

func waitRelease(t *testing.T, r *releaser) gate.ReleaseRequest {
	t.Helper()
	select {
	case req := <-r.notify:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("no release")
	}
	return gate.ReleaseRequest{}
}

func noRelease(t *testing.T, r *releaser) {
	t.Helper()
	select {
	case req := <-r.notify:
		t.Fatalf("unexpected release %+v", req)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestBypassArgoWatchIgnoresForgedStatus: an agent that writes its own
// running Workflow's status.phase to a completed phase (a patch, or an
// update naming another field manager) does not free its slot.
func TestBypassArgoWatchIgnoresForgedStatus(t *testing.T) {
	for _, tc := range []struct{ name, manager, phase string }{
		{name: "kubectl patch", manager: "kubectl-patch", phase: "Succeeded"},
		{name: "client-go update", manager: "agent-tool", phase: "Failed"},
		{name: "no managed fields", manager: "", phase: "Succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(workflow("team-a", "etl-1", "Running"))
			r := newReleaser("team-a/etl-1")
			w := start(t, c, r)
			forged := workflow("team-a", "etl-1", tc.phase)
			if tc.manager == "" {
				forged.SetManagedFields(nil)
			} else {
				writtenBy(forged, tc.manager)
			}
			c.update(t, forged)
			noRelease(t, r)
			if err := w.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			noRelease(t, r)
			if !r.holds("team-a/etl-1") {
				t.Fatal("a forged completion freed the slot")
			}
			// The controller's own completion still frees it.
			c.update(t, workflow("team-a", "etl-1", "Succeeded"))
			if got := waitRelease(t, r); got.Key != "team-a/etl-1" || got.Cause != wfwatch.CauseCompleted {
				t.Fatalf("release %+v", got)
			}
		})
	}
}

func TestWatcherReleasesFinishedWorkflows(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, c *cluster)
		key    string
		cause  string
		phase  string
	}{
		{
			name:   "succeeded",
			change: func(t *testing.T, c *cluster) { c.update(t, workflow("team-a", "etl-1", "Succeeded")) },
			key:    "team-a/etl-1", cause: wfwatch.CauseCompleted, phase: "Succeeded",
		},
		{
			name:   "failed",
			change: func(t *testing.T, c *cluster) { c.update(t, workflow("team-a", "etl-1", "Failed")) },
			key:    "team-a/etl-1", cause: wfwatch.CauseCompleted, phase: "Failed",
		},
		{
			name:   "error",
			change: func(t *testing.T, c *cluster) { c.update(t, workflow("team-a", "etl-1", "Error")) },
			key:    "team-a/etl-1", cause: wfwatch.CauseCompleted, phase: "Error",
		},
		{
			name: "deleted while running",
			change: func(t *testing.T, c *cluster) {
				if err := c.client.Resource(gvr).Namespace("team-a").Delete(context.Background(), "etl-1", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			key: "team-a/etl-1", cause: wfwatch.CauseDeleted, phase: "Running",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(workflow("team-a", "etl-1", "Running"), workflow("team-a", "etl-2", "Running"))
			r := newReleaser("team-a/etl-1", "team-a/etl-2")
			start(t, c, r)
			c.update(t, workflow("team-a", "etl-2", "Running")) // a change that finishes nothing
			noRelease(t, r)
			tc.change(t, c)
			got := waitRelease(t, r)
			if got.Key != tc.key || got.Cause != tc.cause || got.Details["phase"] != tc.phase || got.Quota != wfwatch.Quota ||
				got.Namespace != "team-a" || got.Details["uid"] != "uid-etl-1" || got.Actor != wfwatch.Actor || got.Message == "" {
				t.Fatalf("release %+v", got)
			}
			if !r.holds("team-a/etl-2") {
				t.Fatal("the running workflow's lease was released")
			}
		})
	}
}

func TestWatcherInitialListReleasesFinished(t *testing.T) {
	c := newCluster(workflow("team-a", "done", "Succeeded"), workflow("team-a", "busy", "Running"))
	r := newReleaser("team-a/done", "team-a/busy")
	start(t, c, r)
	if got := waitRelease(t, r); got.Key != "team-a/done" {
		t.Fatalf("released %s", got.Key)
	}
	noRelease(t, r)
}

func TestWatcherRetriesFailedReleases(t *testing.T) {
	c := newCluster(workflow("team-a", "etl-1", "Running"))
	r := newReleaser("team-a/etl-1")
	r.failures = 3
	start(t, c, r)
	c.update(t, workflow("team-a", "etl-1", "Succeeded"))
	if got := waitRelease(t, r); got.Key != "team-a/etl-1" {
		t.Fatalf("released %s", got.Key)
	}
}

func TestReconcile(t *testing.T) {
	c := newCluster(workflow("team-a", "busy", "Running"), workflow("team-a", "missed", "Succeeded"))
	// team-a/ghost never reached the cluster; team-b is not watched.
	r := newReleaser("team-a/busy", "team-a/missed", "team-a/ghost", "team-b/elsewhere")
	w, clk := startClock(t, c, r, "team-a")
	if got := waitRelease(t, r); got.Key != "team-a/missed" {
		t.Fatalf("first release %s, want the finished workflow", got.Key)
	}
	ctx := context.Background()
	clk.advance(59 * time.Second)
	if err := w.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	noRelease(t, r) // missing, but not for long enough
	clk.advance(time.Second)
	if err := w.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got := waitRelease(t, r)
	if got.Key != "team-a/ghost" || got.Cause != wfwatch.CauseOrphaned {
		t.Fatalf("release %+v, want the ghost orphaned", got)
	}
	if err := w.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	noRelease(t, r)
	if !r.holds("team-a/busy") || !r.holds("team-b/elsewhere") {
		t.Fatalf("held after reconcile: %v", r.held)
	}
}

func TestReconcileForgetsSuspectsThatAppear(t *testing.T) {
	c := newCluster()
	r := newReleaser("team-a/late")
	w, clk := startClock(t, c, r) // its first pass finds team-a/late missing
	ctx := context.Background()
	// The admitted Workflow reaches the cache before the next pass.
	if _, err := c.client.Resource(gvr).Namespace("team-a").Create(ctx, workflow("team-a", "late", "Running"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !cached(w, "team-a/late"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the late workflow never reached the cache")
		}
	}
	clk.advance(time.Hour)
	if err := w.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	noRelease(t, r)
	// Deleted later, it is released as deleted, not as an orphan.
	if err := c.client.Resource(gvr).Namespace("team-a").Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := waitRelease(t, r); got.Cause != wfwatch.CauseDeleted {
		t.Fatalf("release %+v", got)
	}
}

func cached(w *wfwatch.Watcher, key string) bool {
	return w.CachedObject(key) != nil
}

func TestCacheKeepsOnlyWhatItReads(t *testing.T) {
	wf := workflow("team-a", "big", "Running")
	wf.SetLabels(map[string]string{"workflows.argoproj.io/creator": "alice"})
	_ = unstructured.SetNestedField(wf.Object, map[string]any{"big-0": map[string]any{"id": "big-0", "phase": "Running"}}, "status", "nodes")
	c := newCluster(wf)
	w := start(t, c, newReleaser())
	cachedWF := w.CachedObject("team-a/big")
	if cachedWF == nil {
		t.Fatal("workflow not cached")
	}
	got := cachedWF.DeepCopy()
	unstructured.RemoveNestedField(got.Object, "metadata", "resourceVersion")
	want := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
		"metadata": map[string]any{"name": "big", "namespace": "team-a", "uid": "uid-big",
			// managedFields are reduced to who wrote status.phase.
			"annotations": map[string]any{"agentgate.io/phase-managers": wfwatch.DefaultControllerManager}},
		"status": map[string]any{"phase": "Running"},
	}
	if !reflect.DeepEqual(got.Object, want) {
		t.Fatalf("cached %v, want %v", got.Object, want)
	}
}

func TestNewNeedsClientAndReleaser(t *testing.T) {
	if _, err := wfwatch.New(wfwatch.Options{Releaser: newReleaser()}); err == nil {
		t.Fatal("no client accepted")
	}
	if _, err := wfwatch.New(wfwatch.Options{Client: newCluster().client}); err == nil {
		t.Fatal("no releaser accepted")
	}
}

func TestProbe(t *testing.T) {
	c := newCluster(workflow("team-a", "etl-1", "Running"))
	w, err := wfwatch.New(wfwatch.Options{Client: c.client, Releaser: newReleaser(), Namespaces: []string{"team-a", "team-b"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Synced() {
		t.Fatal("synced before running")
	}
	if err := w.Probe(context.Background()); err != nil {
		t.Fatalf("probe of a cluster serving Workflows: %v", err)
	}
	c.client.PrependReactor("list", "workflows", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "team-b" {
			return true, nil, errors.New(`workflows.argoproj.io is forbidden: User "system:serviceaccount:agentgate:agentgate" cannot list resource "workflows"`)
		}
		return false, nil, nil
	})
	err = w.Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "namespace team-b") || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("probe refused in team-b: %v", err)
	}
}
