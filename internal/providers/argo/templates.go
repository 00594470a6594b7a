package argo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// TemplateSource reads the WorkflowTemplates and ClusterWorkflowTemplates
// that Workflows reference (the Workflow watch's informer caches). An
// error means the template cannot be read now: missing, not yet synced,
// or not readable with agentgate's RBAC.
type TemplateSource interface {
	WorkflowTemplate(ctx context.Context, namespace, name string) (*wfv1.WorkflowSpec, error)
	ClusterWorkflowTemplate(ctx context.Context, name string) (*wfv1.WorkflowSpec, error)
}

// templatesBox holds the TemplateSource, set once the watch is built.
type templatesBox struct{ src TemplateSource }

// UseTemplates gives the provider the source it resolves template
// references from. Without one every reference is unresolved, which the
// built-in policy refuses for agents (rule scope.template_ref).
func (p *Provider) UseTemplates(src TemplateSource) { p.templates.Store(&templatesBox{src: src}) }

// maxRefDepth bounds how deep references to templates that reference
// templates are followed.
const maxRefDepth = 8

// effective is what a Workflow will run as once its references are
// resolved the way the workflow controller resolves them.
type effective struct {
	// serviceAccounts are every pod service account: the workflow's (its
	// own, else the referenced WorkflowTemplate's), the executor's, and
	// every template's that can run, referenced ones included.
	serviceAccounts []string
	// refs names every reference followed ("WorkflowTemplate/ns/name").
	refs []string
	// unresolved names the references that could not be read, with why.
	unresolved []string
}

// resolver follows references from one Workflow in one namespace.
type resolver struct {
	ctx       context.Context
	src       TemplateSource
	namespace string
	sas       map[string]bool
	refs      []string
	bad       []string
	// specs are the referenced specs read so far (nil: unresolved).
	specs map[string]*wfv1.WorkflowSpec
	// visited are the referenced templates already followed ("key#name"):
	// a reference cycle or a template used twice is followed once.
	visited map[string]bool
}

// resolve computes what ws will run as in namespace: a workflowTemplateRef
// brings the referenced spec (the Workflow's own fields win, as in the
// controller's merge), and templateRef in steps, DAG tasks and hooks bring
// the referenced templates, followed transitively.
func (p *Provider) resolve(ctx context.Context, namespace string, ws *wfv1.WorkflowSpec) effective {
	var src TemplateSource
	if b := p.templates.Load(); b != nil {
		src = b.src
	}
	r := &resolver{ctx: ctx, src: src, namespace: namespace, sas: map[string]bool{},
		specs: map[string]*wfv1.WorkflowSpec{}, visited: map[string]bool{}}
	spec := ws
	if ref := ws.WorkflowTemplateRef; ref != nil && ref.Name != "" {
		if base := r.spec(ref.ClusterScope, ref.Name); base != nil {
			spec = merged(ws, base)
		}
	}
	r.add(spec.ServiceAccountName)
	if spec.Executor != nil {
		r.add(spec.Executor.ServiceAccountName)
	}
	r.hooks(spec.Hooks, 0)
	for i := range spec.Templates {
		r.template(&spec.Templates[i], 0)
	}
	return effective{serviceAccounts: slices.Sorted(maps.Keys(r.sas)), refs: r.refs, unresolved: r.bad}
}

// merged is the Workflow spec over the referenced template's: fields the
// Workflow sets win; templates are the union (the Workflow's first).
func merged(ws, base *wfv1.WorkflowSpec) *wfv1.WorkflowSpec {
	out := *base
	if ws.ServiceAccountName != "" {
		out.ServiceAccountName = ws.ServiceAccountName
	}
	if ws.Executor != nil {
		out.Executor = ws.Executor
	}
	out.Templates = append(append([]wfv1.Template(nil), ws.Templates...), base.Templates...)
	out.Hooks = wfv1.LifecycleHooks{}
	maps.Copy(out.Hooks, base.Hooks)
	maps.Copy(out.Hooks, ws.Hooks)
	return &out
}

func (r *resolver) add(sa string) {
	if sa = strings.TrimSpace(sa); sa != "" {
		r.sas[sa] = true
	}
}

func (r *resolver) key(cluster bool, name string) string {
	if cluster {
		return "ClusterWorkflowTemplate/" + name
	}
	return "WorkflowTemplate/" + r.namespace + "/" + name
}

// spec reads a referenced (Cluster)WorkflowTemplate's spec, once; nil when
// it cannot be read, which is recorded as unresolved.
func (r *resolver) spec(cluster bool, name string) *wfv1.WorkflowSpec {
	key := r.key(cluster, name)
	if spec, ok := r.specs[key]; ok {
		return spec
	}
	r.refs = append(r.refs, key)
	var (
		spec *wfv1.WorkflowSpec
		err  error
	)
	switch {
	case r.src == nil:
		err = fmt.Errorf("agentgate does not read templates (argo.watch is off)")
	case cluster:
		spec, err = r.src.ClusterWorkflowTemplate(r.ctx, name)
	default:
		spec, err = r.src.WorkflowTemplate(r.ctx, r.namespace, name)
	}
	if err == nil && spec == nil {
		err = fmt.Errorf("not found")
	}
	if err != nil {
		r.bad = append(r.bad, fmt.Sprintf("%s (%v)", key, err))
		spec = nil
	}
	r.specs[key] = spec
	return spec
}

// template adds what a template runs as and follows its references.
func (r *resolver) template(t *wfv1.Template, depth int) {
	r.add(t.ServiceAccountName)
	for _, ps := range t.Steps {
		for i := range ps.Steps {
			r.ref(ps.Steps[i].TemplateRef, depth)
			r.hooks(ps.Steps[i].Hooks, depth)
		}
	}
	if t.DAG != nil {
		for i := range t.DAG.Tasks {
			r.ref(t.DAG.Tasks[i].TemplateRef, depth)
			r.hooks(t.DAG.Tasks[i].Hooks, depth)
		}
	}
}

func (r *resolver) hooks(h wfv1.LifecycleHooks, depth int) {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		r.ref(h[k].TemplateRef, depth)
	}
}

// ref follows a templateRef: the named template of the referenced
// (Cluster)WorkflowTemplate, and its references in turn.
func (r *resolver) ref(ref *wfv1.TemplateRef, depth int) {
	if ref == nil {
		return
	}
	key := r.key(ref.ClusterScope, ref.Name)
	if ref.Name == "" {
		r.bad = append(r.bad, "a templateRef without a name")
		return
	}
	if r.visited[key+"#"+ref.Template] {
		return
	}
	r.visited[key+"#"+ref.Template] = true
	if depth >= maxRefDepth {
		r.bad = append(r.bad, fmt.Sprintf("%s (references nested deeper than %d)", key, maxRefDepth))
		return
	}
	spec := r.spec(ref.ClusterScope, ref.Name)
	if spec == nil {
		return
	}
	for i := range spec.Templates {
		if spec.Templates[i].Name == ref.Template {
			r.template(&spec.Templates[i], depth+1)
			return
		}
	}
	r.bad = append(r.bad, fmt.Sprintf("%s (has no template %q)", key, ref.Template))
}
