package wfwatch

import (
	"context"
	"errors"
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/agentgate/agentgate/internal/providers/argo"
)

var _ argo.TemplateSource = (*Watcher)(nil)

func workflowTemplatesResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflowtemplates"}
}

func clusterWorkflowTemplatesResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "clusterworkflowtemplates"}
}

// errNotSynced says a template cache has not been filled yet (or cannot
// be: RBAC, no such resource); the admission webhook treats the reference
// as unresolved.
var errNotSynced = errors.New("agentgate's template cache has not synced (check get/list/watch on workflowtemplates and clusterworkflowtemplates)")

// newTemplateInformers makes the informers that keep WorkflowTemplates (in
// the watched namespaces) and ClusterWorkflowTemplates for the admission
// webhook to resolve references from.
func (w *Watcher) newTemplateInformers() {
	w.templates = map[string]cache.SharedIndexInformer{}
	for _, ns := range namespaces(w.o.Namespaces) {
		w.templates[ns] = dynamicinformer.NewFilteredDynamicInformer(w.o.Client, workflowTemplatesResource(), ns, w.o.Resync, cache.Indexers{}, nil).Informer()
	}
	w.clusterTemplates = dynamicinformer.NewFilteredDynamicInformer(w.o.Client, clusterWorkflowTemplatesResource(), "", w.o.Resync, cache.Indexers{}, nil).Informer()
}

// runTemplateInformers runs the template informers until ctx ends. They
// sync on their own: a cluster where they cannot be read still watches
// Workflows, and references are then unresolved.
func (w *Watcher) runTemplateInformers(ctx context.Context) {
	for _, inf := range w.templates {
		go inf.RunWithContext(ctx)
	}
	go w.clusterTemplates.RunWithContext(ctx)
}

// WorkflowTemplate returns the spec of the WorkflowTemplate namespace/name
// from the cache.
func (w *Watcher) WorkflowTemplate(_ context.Context, namespace, name string) (*wfv1.WorkflowSpec, error) {
	inf := w.templates[""]
	if inf == nil {
		inf = w.templates[namespace]
	}
	if inf == nil {
		return nil, fmt.Errorf("namespace %s is not watched (argo.watch.namespaces)", namespace)
	}
	return specFrom(inf, namespace+"/"+name)
}

// ClusterWorkflowTemplate returns the spec of the ClusterWorkflowTemplate
// name from the cache.
func (w *Watcher) ClusterWorkflowTemplate(_ context.Context, name string) (*wfv1.WorkflowSpec, error) {
	return specFrom(w.clusterTemplates, name)
}

func specFrom(inf cache.SharedIndexInformer, key string) (*wfv1.WorkflowSpec, error) {
	if !inf.HasSynced() {
		return nil, errNotSynced
	}
	obj, ok, err := inf.GetStore().GetByKey(key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("not found")
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected cached object %T", obj)
	}
	var t struct {
		Spec wfv1.WorkflowSpec `json:"spec"`
	}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(map[string]any{"spec": spec}, &t); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return &t.Spec, nil
}
