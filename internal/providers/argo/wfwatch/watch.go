package wfwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
)

// Quota is the concurrency quota of running Workflows, as the built-in
// policy names it.
const Quota = "concurrent_workflows"

// Actor is recorded as who released a lease.
const Actor = "agentgate:argo-workflow-watch"

// Defaults of Options.
const (
	// DefaultResync is the informer resync and reconcile interval.
	DefaultResync = 5 * time.Minute
	// DefaultOrphanAfter is how long a Workflow must be missing before its
	// lease is released: longer than a Workflow takes from admission to the
	// informer's cache.
	DefaultOrphanAfter = 2 * time.Minute
)

// Causes of a release, recorded in the audit details and the metrics.
const (
	CauseCompleted = "completed"
	CauseDeleted   = "deleted"
	CauseOrphaned  = "orphaned"
)

// WorkflowsResource is the Workflow resource watched.
func workflowsResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
}

// Releaser gives back leases by key (the gate).
type Releaser interface {
	ReleaseByKey(ctx context.Context, r gate.ReleaseRequest) ([]gate.Released, error)
	HeldKeys(ctx context.Context, quota string) ([]string, error)
}

var _ Releaser = (*gate.Gate)(nil)

// Options configure a Watcher.
type Options struct {
	// Client reaches the cluster's API server.
	Client dynamic.Interface
	// Namespaces limits the watch; empty watches every namespace (which
	// needs a ClusterRole to list and watch Workflows).
	Namespaces []string
	// Releaser releases leases (the gate).
	Releaser Releaser
	// Quota is the quota released (Quota when empty).
	Quota string
	// Resync is the informer resync and reconcile interval (DefaultResync
	// when zero).
	Resync time.Duration
	// OrphanAfter is how long a lease's Workflow must be missing from the
	// cache, seen on two reconcile passes at least that far apart, before
	// the lease is released as orphaned (DefaultOrphanAfter when zero).
	OrphanAfter time.Duration
	// ControllerManagers are the field managers of the workflow
	// controller (DefaultControllerManager when empty). A Workflow's
	// completion frees its slot only when one of them owns status.phase
	// in metadata.managedFields; the admission webhook refuses status
	// writes by anyone but the controller, so no one else can write it
	// under the controller's name.
	ControllerManagers []string
	// Logger receives the watcher's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// release is one queued release.
type release struct {
	key   string // <namespace>/<name>
	cause string
	phase string
	uid   string
}

// Watcher watches Workflows and releases the leases of finished ones.
type Watcher struct {
	o     Options
	log   *slog.Logger
	queue workqueue.TypedRateLimitingInterface[release]

	mu        sync.Mutex
	informers map[string]cache.SharedIndexInformer // by namespace ("" = all)
	// templates (by namespace) and clusterTemplates keep the templates
	// Workflows reference, for the admission webhook.
	templates        map[string]cache.SharedIndexInformer
	clusterTemplates cache.SharedIndexInformer
	suspects         map[string]time.Time // missing keys, first seen missing
	passes           atomic.Int64         // reconcile passes done
	synced           atomic.Bool          // every cache has synced
}

// New returns a Watcher; Run starts it.
func New(o Options) (*Watcher, error) {
	if o.Client == nil || o.Releaser == nil {
		return nil, errors.New("wfwatch: a client and a releaser are required")
	}
	if o.Quota == "" {
		o.Quota = Quota
	}
	if o.Resync <= 0 {
		o.Resync = DefaultResync
	}
	if o.OrphanAfter <= 0 {
		o.OrphanAfter = DefaultOrphanAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.ControllerManagers) == 0 {
		o.ControllerManagers = []string{DefaultControllerManager}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{o: o, log: log.With("component", "argo-workflow-watch"), suspects: map[string]time.Time{}}
	w.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[release](),
		workqueue.TypedRateLimitingQueueConfig[release]{Name: "argo-workflow-leases"})
	w.informers = map[string]cache.SharedIndexInformer{}
	for _, ns := range namespaces(o.Namespaces) {
		inf := dynamicinformer.NewFilteredDynamicInformer(o.Client, workflowsResource(), ns, o.Resync, cache.Indexers{}, nil).Informer()
		if err := inf.SetTransform(slim); err != nil {
			return nil, fmt.Errorf("wfwatch: set transform: %w", err)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    w.changed,
			UpdateFunc: func(_, obj any) { w.changed(obj) },
			DeleteFunc: w.deleted,
		}); err != nil {
			return nil, fmt.Errorf("wfwatch: add handler: %w", err)
		}
		w.informers[ns] = inf
	}
	w.newTemplateInformers()
	return w, nil
}

// Probe lists one Workflow in each watched namespace, to learn whether the
// API server serves Workflows to this client at all: an error names the
// namespace and says why (Argo Workflows not installed, RBAC refused, the
// server unreachable).
func (w *Watcher) Probe(ctx context.Context) error {
	for _, ns := range namespaces(w.o.Namespaces) {
		_, err := w.o.Client.Resource(workflowsResource()).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			where := "every namespace"
			if ns != "" {
				where = "namespace " + ns
			}
			return fmt.Errorf("wfwatch: list Workflows in %s: %w", where, err)
		}
	}
	return nil
}

// namespaces is the sorted, unique list to watch; [""] watches all.
func namespaces(in []string) []string {
	set := map[string]bool{}
	for _, ns := range in {
		if ns = strings.TrimSpace(ns); ns != "" {
			set[ns] = true
		}
	}
	if len(set) == 0 {
		return []string{""}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// Run watches until ctx ends. It returns an error when the caches cannot
// sync (the API server is unreachable or RBAC forbids the watch).
func (w *Watcher) Run(ctx context.Context) error {
	defer w.queue.ShutDown()
	w.runTemplateInformers(ctx)
	synced := make([]cache.InformerSynced, 0, len(w.informers))
	for _, inf := range w.informers {
		go inf.RunWithContext(ctx)
		synced = append(synced, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("wfwatch: Workflow caches did not sync")
	}
	w.synced.Store(true)
	defer w.synced.Store(false)
	w.log.InfoContext(ctx, "watching Argo Workflows", "namespaces", namespaces(w.o.Namespaces), "resync", w.o.Resync)
	go w.work(ctx)
	t := time.NewTicker(w.o.Resync)
	defer t.Stop()
	for {
		if err := w.Reconcile(ctx); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "reconcile running-workflow leases", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Synced reports whether Run has synced every cache and is releasing leases.
func (w *Watcher) Synced() bool { return w.synced.Load() }

// changed queues a release for a Workflow that has finished.
func (w *Watcher) changed(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	phase := phaseOf(u)
	if !w.completed(u, phase) {
		return
	}
	w.queue.Add(release{key: u.GetNamespace() + "/" + u.GetName(), cause: CauseCompleted, phase: phase, uid: string(u.GetUID())})
}

// completed reports whether the Workflow finished by its controller's
// word. A completed phase that someone else wrote is logged and ignored:
// the slot stays taken until the Workflow is deleted or the lease's TTL.
func (w *Watcher) completed(u *unstructured.Unstructured, phase string) bool {
	if !wfv1.WorkflowPhase(phase).Completed() {
		return false
	}
	if !w.controllerWrotePhase(u) {
		w.log.Warn("workflow reports a completed phase the workflow controller did not write; its slot stays taken",
			"workflow", u.GetNamespace()+"/"+u.GetName(), "phase", phase, "phase_managers", u.GetAnnotations()[annotationPhaseManagers])
		return false
	}
	return true
}

// deleted queues a release for a deleted Workflow.
func (w *Watcher) deleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	w.queue.Add(release{key: u.GetNamespace() + "/" + u.GetName(), cause: CauseDeleted, phase: phaseOf(u), uid: string(u.GetUID())})
}

// work releases queued leases, retrying failures with back-off.
func (w *Watcher) work(ctx context.Context) {
	for {
		r, shutdown := w.queue.Get()
		if shutdown {
			return
		}
		if err := w.release(ctx, r); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "release running-workflow lease", "key", r.key, "err", err, "retries", w.queue.NumRequeues(r))
			w.queue.AddRateLimited(r)
		} else {
			w.queue.Forget(r)
		}
		w.queue.Done(r)
	}
}

func (w *Watcher) release(ctx context.Context, r release) error {
	ns, name, _ := strings.Cut(r.key, "/")
	msg := fmt.Sprintf("workflow %s %s", r.key, orUnknown(r.phase))
	switch r.cause {
	case CauseDeleted:
		msg = fmt.Sprintf("workflow %s was deleted (phase %s)", r.key, orUnknown(r.phase))
	case CauseOrphaned:
		msg = fmt.Sprintf("workflow %s does not exist: it was refused after admission or deleted while nothing watched", r.key)
	}
	details := map[string]string{"workflow": name}
	if r.phase != "" {
		details["phase"] = r.phase
	}
	if r.uid != "" {
		details["uid"] = r.uid
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := w.o.Releaser.ReleaseByKey(ctx, gate.ReleaseRequest{
		Quota: w.o.Quota, Key: r.key, Provider: "argo", EventKind: event.KindWorkflow, Namespace: ns,
		Cause: r.cause, Message: msg, Actor: Actor, Details: details,
	})
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "in no phase"
	}
	return s
}

// phaseOf reads status.phase.
func phaseOf(u *unstructured.Unstructured) string {
	p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	return p
}

// slim keeps only what the watcher reads of a Workflow in the cache.
func slim(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil // a DeletedFinalStateUnknown tombstone
	}
	out := &unstructured.Unstructured{Object: map[string]any{}}
	out.SetAPIVersion(u.GetAPIVersion())
	out.SetKind(u.GetKind())
	out.SetName(u.GetName())
	out.SetNamespace(u.GetNamespace())
	out.SetUID(u.GetUID())
	out.SetResourceVersion(u.GetResourceVersion())
	if ts := u.GetDeletionTimestamp(); ts != nil {
		out.SetDeletionTimestamp(ts)
	}
	status := map[string]any{}
	if p := phaseOf(u); p != "" {
		status["phase"] = p
	}
	if f, ok, _ := unstructured.NestedString(u.Object, "status", "finishedAt"); ok && f != "" {
		status["finishedAt"] = f
	}
	if len(status) > 0 {
		out.Object["status"] = status
	}
	if m := phaseManagers(u); len(m) > 0 {
		out.SetAnnotations(map[string]string{annotationPhaseManagers: strings.Join(m, ",")})
	}
	return out, nil
}
