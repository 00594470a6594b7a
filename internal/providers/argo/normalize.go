package argo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
)

// Argo Workflows resources governed by the admission webhook.
const (
	argoGroup            = "argoproj.io"
	kindWorkflow         = "Workflow"
	kindCronWorkflow     = "CronWorkflow"
	kindWorkflowTemplate = "WorkflowTemplate"
	// kindClusterWorkflowTemplate is cluster-scoped: every namespace's
	// Workflows may reference it.
	kindClusterWorkflowTemplate = "ClusterWorkflowTemplate"
)

// Annotations on a Workflow, CronWorkflow or WorkflowTemplate that say
// which agent submitted it and why (the event's trigger).
const (
	AnnotationAgentID     = "agentgate.io/agent-id"
	AnnotationPrompt      = "agentgate.io/prompt"
	AnnotationReasoning   = "agentgate.io/reasoning"
	AnnotationTriggeredBy = "agentgate.io/triggered-by"
)

// Labels the Argo Workflows server sets on what it creates for an SSO user.
const (
	LabelCreator                  = "workflows.argoproj.io/creator"
	LabelCreatorPreferredUsername = "workflows.argoproj.io/creator-preferred-username"
)

// Event values of the admission webhook.
const (
	serviceAccountPrefix = "system:serviceaccount:"
	triggerSourceAnnot   = "annotations"
)

// Handles of admission events.
const (
	HandleUID                     = "uid"
	HandleKind                    = "kind"
	HandleName                    = "name"
	HandleGenerateName            = "generate_name"
	HandleOperation               = "operation"
	HandleServiceAccountName      = "service_account_name"
	HandleTemplateServiceAccounts = "template_service_accounts"
	HandleActiveDeadlineSeconds   = "active_deadline_seconds"
	HandleWorkflowTemplateRef     = "workflow_template_ref"
	HandleSpecSHA256              = "spec_sha256"
)

// governed reports whether the request is about a resource the webhook
// decides on, and why not otherwise.
func (p *Provider) governed(req *admissionv1.AdmissionRequest) (bool, string) {
	k := req.Kind
	switch {
	case k.Group != argoGroup || (k.Kind != kindWorkflow && k.Kind != kindCronWorkflow && k.Kind != kindWorkflowTemplate && k.Kind != kindClusterWorkflowTemplate):
		return false, "resource " + groupKind(k.Group, k.Kind) + " is not governed"
	case req.SubResource != "" && (req.SubResource != subresourceStatus || k.Kind != kindWorkflow):
		return false, "subresource " + req.SubResource + " is not governed"
	case req.Operation != admissionv1.Create && req.Operation != admissionv1.Update:
		return false, "operation " + string(req.Operation) + " is not governed"
	case req.DryRun != nil && *req.DryRun:
		return false, "dry-run requests are not decided (agentgate charges quotas and records decisions)"
	case p.controllers[req.UserInfo.Username] && (k.Kind != kindWorkflow || req.Operation != admissionv1.Create):
		// Its Workflow creations are looked at: they may be spawned from
		// an agent's CronWorkflow (workflowEvent).
		return false, "the workflow controller's own requests are not governed"
	}
	return true, ""
}

func groupKind(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

// workflowEvent builds the event of a governed request. It returns ok false
// with a reason for an UPDATE that changes nothing governed (status, labels,
// or only spec.suspend and spec.shutdown, which stop work rather than start it).
func (p *Provider) workflowEvent(ctx context.Context, req *admissionv1.AdmissionRequest) (ev event.Event, ok bool, why string, err error) {
	if len(req.Object.Raw) == 0 || string(req.Object.Raw) == "null" {
		return event.Event{}, false, "", apperr.Invalid("the %s request carries no object", req.Kind.Kind)
	}
	obj, err := decodeObject(req.Kind.Kind, req.Object.Raw)
	if err != nil {
		return event.Event{}, false, "", err
	}
	writesStatus, err := statusWrite(req)
	if err != nil {
		return event.Event{}, false, "", err
	}
	writesStatus = writesStatus && !p.servers[strings.TrimSpace(req.UserInfo.Username)]
	if req.Operation == admissionv1.Update && !writesStatus {
		changed, err := specChanged(obj.rawSpec, req.OldObject.Raw)
		if err != nil {
			return event.Event{}, false, "", err
		}
		if !changed {
			return event.Event{}, false, "update changes no governed part of the spec", nil
		}
	}

	meta, ws := obj.meta, obj.spec
	ns := firstNonEmpty(req.Namespace, meta.Namespace)
	// The kube-apiserver has resolved generateName before validating
	// admission: the object carries its name (request.name may be empty).
	name := firstNonEmpty(req.Name, meta.Name)
	principal, machine := p.principal(req, meta.Labels)
	var via string
	if o, ok := p.originOf(req, meta); ok && (p.controllers[strings.TrimSpace(req.UserInfo.Username)] || !strings.HasPrefix(principal, "argo:")) {
		a, found, err := p.attributed(ctx, o)
		switch {
		case err != nil:
			return event.Event{}, false, "", err
		case found:
			// The agent behind the CronWorkflow (or the resubmitted
			// Workflow) is behind this Workflow too.
			principal, machine, via = a.Principal, true, o.String()
		case p.controllers[strings.TrimSpace(req.UserInfo.Username)]:
			return event.Event{}, false, "created by the workflow controller from " + o.String() + ", which no agent created", nil
		}
	} else if p.controllers[strings.TrimSpace(req.UserInfo.Username)] {
		return event.Event{}, false, "the workflow controller's own requests are not governed", nil
	}
	ev = event.Event{
		Provider: Name,
		Kind:     event.KindWorkflow,
		Action:   strings.ToLower(string(req.Operation)),
		Phase:    event.PhaseStart,
		// The change as its submitter wrote it: a resubmission of a
		// generateName object gets a new name but is the same change.
		Repo:        clip(repoOf(ns, firstNonEmpty(meta.GenerateName, name)), maxField),
		Namespace:   clip(ns, maxField),
		Environment: clip(p.environmentOf(ns), maxField),
		Principal:   principal,
		Machine:     machine,
		Trigger:     annotationTrigger(meta.Annotations),
		// Admission cannot wait for a human; the submitter resubmits.
		Resubmits: true,
	}
	if writesStatus {
		ev.Action, ev.Resubmits = ActionUpdateStatus, false
	}
	tmplSAs := templateServiceAccounts(ws)

	h := fields{}
	h.set(HandleUID, string(req.UID))
	h.set(HandleKind, req.Kind.Kind)
	h.set(HandleName, name)
	h.set(HandleGenerateName, meta.GenerateName)
	h.set(HandleOperation, string(req.Operation))
	if (req.Kind.Kind == kindCronWorkflow || req.Kind.Kind == kindWorkflow) && name != "" {
		// Recorded as the agent's when allowed: what the controller
		// spawns from it, or the server resubmits, stays the agent's.
		h.set(event.HandleAttributeAs, req.Kind.Kind+"/"+ns+"/"+name)
	}
	h.set(HandleServiceAccountName, ws.ServiceAccountName)
	h.set(HandleTemplateServiceAccounts, strings.Join(tmplSAs, ","))
	if ws.ActiveDeadlineSeconds != nil {
		h.set(HandleActiveDeadlineSeconds, strconv.FormatInt(*ws.ActiveDeadlineSeconds, 10))
	}
	if ref := ws.WorkflowTemplateRef; ref != nil && ref.Name != "" {
		kind := "WorkflowTemplate/"
		if ref.ClusterScope {
			kind = "ClusterWorkflowTemplate/"
		}
		h.set(HandleWorkflowTemplateRef, kind+ref.Name)
	}
	if len(obj.rawSpec) > 0 {
		sum := sha256.Sum256(canonicalJSON(obj.rawSpec))
		h.set(HandleSpecSHA256, hex.EncodeToString(sum[:]))
		// The spec's digest stands for the commit: an approval is bound to it.
		ev.SHA = h[HandleSpecSHA256]
	}
	ev.Handles = h.orNil()

	l := fields{}
	l.set("resource_kind", req.Kind.Kind)
	l.set("service_account", ws.ServiceAccountName)
	// What will run: the spec with its template references resolved.
	eff := p.resolve(ctx, ns, ws)
	l.set("service_accounts", strings.Join(union(allServiceAccounts(ws, tmplSAs), eff.serviceAccounts), ","))
	l.set("template_refs", clip(strings.Join(eff.refs, ","), maxField*4))
	l.set("unresolved_template_refs", clip(strings.Join(eff.unresolved, "; "), maxField*4))
	l.set("workflow_template_ref", h[HandleWorkflowTemplateRef])
	if req.Kind.Kind == kindCronWorkflow {
		l.set("schedule", strings.Join(obj.schedules, ","))
	}
	if ws.ActiveDeadlineSeconds == nil {
		l.set("active_deadline", "none")
	}
	if req.Kind.Kind == kindClusterWorkflowTemplate {
		// In no namespace and usable from all of them.
		l.set("cluster_scoped", "true")
	}
	l.set("attributed_via", via)
	l.set("k8s_username", req.UserInfo.Username)
	if p.servers[strings.TrimSpace(req.UserInfo.Username)] && !strings.HasPrefix(principal, "argo:") {
		// Submitted through the Argo server with no user named: the
		// policy says how to set that up instead of only refusing.
		l.set("argo_server_unattributed", "true")
	}
	l.set("k8s_groups", strings.Join(req.UserInfo.Groups, ","))
	ev.Labels = l.orNil()
	return ev, true, "", nil
}

// principal names who makes the request: a service account
// "k8s:system:serviceaccount:<ns>:<name>" (machine), the SSO user the Argo
// Workflows server acts for "argo:<preferred username or creator>", or a
// Kubernetes user "k8s:<username>".
func (p *Provider) principal(req *admissionv1.AdmissionRequest, labels map[string]string) (string, bool) {
	user := strings.TrimSpace(req.UserInfo.Username)
	if p.servers[user] {
		if who := firstNonEmpty(labels[LabelCreatorPreferredUsername], labels[LabelCreator]); who != "" {
			return clip("argo:"+who, maxField), false
		}
	}
	if user == "" {
		return "k8s:system:anonymous", false
	}
	return clip("k8s:"+user, maxField), strings.HasPrefix(user, serviceAccountPrefix)
}

// annotationTrigger reads the agentgate.io trigger annotations.
func annotationTrigger(a map[string]string) event.Trigger {
	t := event.Trigger{
		AgentID:     clip(strings.TrimSpace(a[AnnotationAgentID]), maxField),
		Prompt:      clip(strings.TrimSpace(a[AnnotationPrompt]), maxPrompt),
		Reasoning:   clip(strings.TrimSpace(a[AnnotationReasoning]), maxPrompt),
		TriggeredBy: clip(strings.TrimSpace(a[AnnotationTriggeredBy]), maxField),
	}
	if t != (event.Trigger{}) {
		t.Source = triggerSourceAnnot
	}
	return t
}

// templateServiceAccounts lists the service accounts templates and the
// executor set, sorted and unique.
func templateServiceAccounts(ws *wfv1.WorkflowSpec) []string {
	set := map[string]bool{}
	for _, t := range ws.Templates {
		if sa := strings.TrimSpace(t.ServiceAccountName); sa != "" {
			set[sa] = true
		}
	}
	if ws.Executor != nil {
		if sa := strings.TrimSpace(ws.Executor.ServiceAccountName); sa != "" {
			set[sa] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// allServiceAccounts is the workflow's service account and its templates'.
func allServiceAccounts(ws *wfv1.WorkflowSpec, tmpl []string) []string {
	out := nonEmpty(strings.TrimSpace(ws.ServiceAccountName))
	for _, sa := range tmpl {
		if len(out) == 0 || sa != out[0] {
			out = append(out, sa)
		}
	}
	return out
}

// specChanged reports whether an UPDATE changes the spec other than by
// suspending, resuming, stopping or terminating.
func specChanged(newSpec json.RawMessage, oldRaw []byte) (bool, error) {
	if len(oldRaw) == 0 {
		return true, nil
	}
	oldSpec, err := rawSpecOf("the old object", oldRaw)
	if err != nil {
		return false, err
	}
	a, err := specMap(newSpec)
	if err != nil {
		return false, err
	}
	b, err := specMap(oldSpec)
	if err != nil {
		return false, err
	}
	// spec.suspend and spec.shutdown only suspend or stop a workflow.
	for _, f := range []string{"suspend", "shutdown"} {
		delete(a, f)
		delete(b, f)
	}
	return !reflect.DeepEqual(a, b), nil
}

func specMap(raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 || string(raw) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, apperr.Invalid("spec is not an object: %s", jsonProblem(err))
	}
	return m, nil
}

// canonicalJSON re-encodes raw with sorted keys, so that the spec hash
// does not depend on how the client ordered fields.
func canonicalJSON(raw json.RawMessage) []byte {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return b
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// union is a followed by what b adds to it.
func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// repoOf names the change: "<namespace>/<name>", or "cluster/<name>" for
// a cluster-scoped object.
func repoOf(ns, name string) string {
	if ns == "" {
		return "cluster/" + name
	}
	return ns + "/" + name
}
