package argo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"sigs.k8s.io/yaml"
)

// fakeTemplates is a TemplateSource over YAML specs by key
// ("<namespace>/<name>", or "cluster/<name>").
type fakeTemplates map[string]string

var _ TemplateSource = fakeTemplates(nil)

func (f fakeTemplates) get(key string) (*wfv1.WorkflowSpec, error) {
	src, ok := f[key]
	if !ok {
		return nil, errors.New("not found")
	}
	var spec wfv1.WorkflowSpec
	if err := yaml.UnmarshalStrict([]byte(src), &spec); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &spec, nil
}

func (f fakeTemplates) WorkflowTemplate(_ context.Context, ns, name string) (*wfv1.WorkflowSpec, error) {
	return f.get(ns + "/" + name)
}

func (f fakeTemplates) ClusterWorkflowTemplate(_ context.Context, name string) (*wfv1.WorkflowSpec, error) {
	return f.get("cluster/" + name)
}

// clusterTemplates are templates a human made, some running privileged.
func clusterTemplates() fakeTemplates {
	return fakeTemplates{
		"agents/workflow-template-submittable": `
entrypoint: main
serviceAccountName: cluster-admin-sa
templates:
- name: main
  container: {image: alpine:3.20}`,
		"agents/steps-lib": `
templates:
- name: deploy
  serviceAccountName: deployer
  container: {image: alpine:3.20}
- name: fan-out
  steps:
  - - name: nested
      templateRef: {name: nested-lib, template: inner}`,
		"agents/nested-lib": `
templates:
- name: inner
  serviceAccountName: nested-sa
  container: {image: alpine:3.20}`,
		"agents/cycle-a": `
templates:
- name: a
  steps:
  - - name: to-b
      templateRef: {name: cycle-b, template: b}`,
		"agents/cycle-b": `
templates:
- name: b
  steps:
  - - name: to-a
      templateRef: {name: cycle-a, template: a}`,
		"cluster/platform-ops": `
serviceAccountName: platform-admin
entrypoint: main
templates:
- name: main
  container: {image: alpine:3.20}
- name: break-glass
  serviceAccountName: root-sa
  container: {image: alpine:3.20}`,
	}
}

func TestResolveTemplates(t *testing.T) {
	tests := []struct {
		name           string
		spec           string
		src            TemplateSource
		wantSAs        string
		wantUnresolved string
	}{
		{name: "no references", spec: "serviceAccountName: agent-runner\ntemplates: [{name: main, container: {image: a}}]",
			src: clusterTemplates(), wantSAs: "agent-runner"},
		{name: "workflowTemplateRef brings the template's account", spec: "workflowTemplateRef: {name: workflow-template-submittable}",
			src: clusterTemplates(), wantSAs: "cluster-admin-sa"},
		{name: "the Workflow's own account wins the merge", spec: "serviceAccountName: agent-runner\nworkflowTemplateRef: {name: workflow-template-submittable}",
			src: clusterTemplates(), wantSAs: "agent-runner"},
		{name: "clusterScope workflowTemplateRef", spec: "workflowTemplateRef: {name: platform-ops, clusterScope: true}",
			src: clusterTemplates(), wantSAs: "platform-admin,root-sa"},
		{name: "templateRef in steps, followed transitively", spec: `
serviceAccountName: agent-runner
templates:
- name: main
  steps:
  - - name: s1
      templateRef: {name: steps-lib, template: deploy}
    - name: s2
      templateRef: {name: steps-lib, template: fan-out}`,
			src: clusterTemplates(), wantSAs: "agent-runner,deployer,nested-sa"},
		{name: "templateRef in a DAG task to a cluster template", spec: `
serviceAccountName: agent-runner
templates:
- name: main
  dag:
    tasks:
    - name: t1
      templateRef: {name: platform-ops, template: break-glass, clusterScope: true}`,
			src: clusterTemplates(), wantSAs: "agent-runner,root-sa"},
		{name: "templateRef in a workflow hook", spec: `
serviceAccountName: agent-runner
hooks:
  exit:
    templateRef: {name: steps-lib, template: deploy}
templates: [{name: main, container: {image: a}}]`,
			src: clusterTemplates(), wantSAs: "agent-runner,deployer"},
		{name: "a reference cycle ends", spec: `
templates:
- name: main
  steps:
  - - name: go
      templateRef: {name: cycle-a, template: a}`,
			src: clusterTemplates(), wantSAs: ""},
		{name: "missing template", spec: "workflowTemplateRef: {name: ghost}",
			src: clusterTemplates(), wantUnresolved: "WorkflowTemplate/agents/ghost (not found)"},
		{name: "missing template name in a referenced template", spec: `
templates:
- name: main
  steps:
  - - name: go
      templateRef: {name: steps-lib, template: nope}`,
			src: clusterTemplates(), wantUnresolved: `WorkflowTemplate/agents/steps-lib (has no template "nope")`},
		{name: "no template source", spec: "workflowTemplateRef: {name: workflow-template-submittable}",
			src: nil, wantUnresolved: "argo.watch is off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, Options{})
			if tc.src != nil {
				p.UseTemplates(tc.src)
			}
			var ws wfv1.WorkflowSpec
			if err := yaml.UnmarshalStrict([]byte(tc.spec), &ws); err != nil {
				t.Fatal(err)
			}
			eff := p.resolve(context.Background(), "agents", &ws)
			if tc.wantUnresolved != "" {
				if !strings.Contains(strings.Join(eff.unresolved, "; "), tc.wantUnresolved) {
					t.Fatalf("unresolved = %q, want %q", eff.unresolved, tc.wantUnresolved)
				}
				return
			}
			if len(eff.unresolved) > 0 || strings.Join(eff.serviceAccounts, ",") != tc.wantSAs {
				t.Fatalf("service accounts %q, unresolved %q; want %q", eff.serviceAccounts, eff.unresolved, tc.wantSAs)
			}
		})
	}
}
