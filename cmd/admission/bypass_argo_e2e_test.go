package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// statusUpdate is the review of an UPDATE of the agent's running Workflow
// that writes status.phase, by username, through the main resource or the
// status subresource.
func statusUpdate(t *testing.T, uid, name, username, phase, subresource string) []byte {
	t.Helper()
	var review map[string]any
	if err := json.Unmarshal(admissionRequest(t, uid, name), &review); err != nil {
		t.Fatal(err)
	}
	req := review["request"].(map[string]any)
	req["operation"] = "UPDATE"
	req["userInfo"].(map[string]any)["username"] = username
	if subresource != "" {
		req["subResource"], req["requestSubResource"] = subresource, subresource
	}
	obj := req["object"].(map[string]any)
	old := map[string]any{}
	for k, v := range obj {
		old[k] = v
	}
	old["status"] = map[string]any{"phase": "Running"}
	obj["status"] = map[string]any{"phase": phase}
	req["oldObject"] = old
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBypassArgoStatusPatch: an agent (or anyone but the workflow
// controller and the Argo server) that writes its running Workflow's
// status to free its concurrent_workflows slot is refused by the webhook,
// and the refusal is a recorded decision.
func TestBypassArgoStatusPatch(t *testing.T) {
	w := newWatchedAgent(t)
	name, ok, msg := w.submit()
	if !ok {
		t.Fatalf("workflow refused: %s", msg)
	}
	tests := []struct {
		name, username, subresource string
		allowed                     bool
	}{
		{name: "agent writes the main resource", username: "system:serviceaccount:agents:claude-bot"},
		{name: "agent writes the status subresource", username: "system:serviceaccount:agents:claude-bot", subresource: "status"},
		{name: "another service account", username: "system:serviceaccount:agents:helper"},
		{name: "a person with kubectl", username: "jane@example.com"},
		{name: "the Argo server (retry, resume)", username: "system:serviceaccount:argo:argo-server", allowed: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := admit(t, w.e.h, statusUpdate(t, "status-"+string(rune('a'+i)), name, tc.username, "Succeeded", tc.subresource))
			if a.Allowed != tc.allowed {
				t.Fatalf("status write by %s: allowed=%v %q, want %v", tc.username, a.Allowed, a.Message, tc.allowed)
			}
			if !tc.allowed && !strings.Contains(a.Message, "workflow.status_write") {
				t.Fatalf("refusal %q does not name workflow.status_write", a.Message)
			}
		})
	}
	var page struct {
		Items []struct {
			Decision struct {
				Reasons []string `json:"reasons"`
			} `json:"decision"`
		} `json:"items"`
	}
	w.e.call(http.MethodGet, "/api/v1/audit?kind=decision&outcome=deny", nil, http.StatusOK, &page)
	refused := 0
	for _, it := range page.Items {
		if len(it.Decision.Reasons) > 0 && strings.Contains(strings.Join(it.Decision.Reasons, ";"), "workflow.status_write") {
			refused++
		}
	}
	if refused != 4 {
		t.Fatalf("%d recorded status-write refusals, want 4", refused)
	}
}

// TestBypassArgoForgedStatusKeepsSlot: a completed phase in the cluster
// that the workflow controller did not write (the webhook was bypassed,
// or down with failurePolicy Ignore) does not free the agent's slot; the
// controller's own completion does.
func TestBypassArgoForgedStatusKeepsSlot(t *testing.T) {
	w := newWatchedAgent(t)
	var running []string
	for range 5 {
		name, ok, msg := w.submit()
		if !ok {
			t.Fatalf("workflow %s refused within the limit: %s", name, msg)
		}
		running = append(running, name)
	}
	w.kube.putBy("agents", running[0], "Succeeded", "kubectl-patch")
	time.Sleep(500 * time.Millisecond) // the watch sees the change at once
	if _, ok, _ := w.submit(); ok {
		t.Fatal("a forged completion freed a running-workflow slot")
	}
	w.kube.put("agents", running[0], "Succeeded")
	waitReleases(w.e, 1)
	if name, ok, msg := w.submit(); !ok {
		t.Fatalf("workflow %s refused after the controller completed one: %s", name, msg)
	}
}

// workflowWithSpec is the agent's Workflow review with spec replaced.
func workflowWithSpec(t *testing.T, uid, name string, spec map[string]any) []byte {
	t.Helper()
	var review map[string]any
	if err := json.Unmarshal(admissionRequest(t, uid, name), &review); err != nil {
		t.Fatal(err)
	}
	review["request"].(map[string]any)["object"].(map[string]any)["spec"] = spec
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// humanTemplates are the templates people made: one safe for the agent,
// others running as privileged accounts.
func humanTemplates(k *fakeKube) {
	k.addTemplate("agents", "safe-lib", "agent-runner")
	k.addTemplate("agents", "privileged-lib", "cluster-admin-sa")
	k.addTemplate("", "platform-ops", "platform-admin")
}

// refAttempts submits each spec as the agent and checks the answer.
func refAttempts(t *testing.T, tests []refAttempt) {
	t.Helper()
	w := newWatchedAgent(t, humanTemplates)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a admission
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				// The template caches fill moments after the watch starts.
				a = admit(t, w.e.h, workflowWithSpec(t, fmt.Sprintf("ref-%d-%d", i, time.Now().UnixNano()), fmt.Sprintf("ref-wf-%d", i), tc.spec))
				if !strings.Contains(a.Message, "has not synced") || time.Now().After(deadline) {
					break
				}
			}
			if a.Allowed != tc.allowed || (tc.want != "" && !strings.Contains(a.Message, tc.want)) {
				t.Fatalf("allowed=%v %q, want allowed=%v naming %q", a.Allowed, a.Message, tc.allowed, tc.want)
			}
		})
	}
}

type refAttempt struct {
	name    string
	spec    map[string]any
	allowed bool
	want    string
}

func stepsRef(ref map[string]any) map[string]any {
	return map[string]any{"entrypoint": "main", "serviceAccountName": "agent-runner", "templates": []any{map[string]any{
		"name": "main", "steps": []any{[]any{map[string]any{"name": "s1", "templateRef": ref}}}}}}
}

func TestBypassArgoWorkflowTemplateRef(t *testing.T) {
	refAttempts(t, []refAttempt{
		{name: "a template running as the agent's account", spec: map[string]any{"workflowTemplateRef": map[string]any{"name": "safe-lib"}}, allowed: true},
		{name: "a template running privileged", spec: map[string]any{"workflowTemplateRef": map[string]any{"name": "privileged-lib"}},
			want: `scope.service_account: data-pipeline agent "claude-bot"`},
	})
}

func TestBypassArgoClusterWorkflowTemplateRef(t *testing.T) {
	refAttempts(t, []refAttempt{
		{name: "cluster template running privileged", spec: map[string]any{"workflowTemplateRef": map[string]any{"name": "platform-ops", "clusterScope": true}},
			want: `"platform-admin"`},
	})
}

func TestBypassArgoStepTemplateRef(t *testing.T) {
	refAttempts(t, []refAttempt{
		{name: "step referencing a privileged template", spec: stepsRef(map[string]any{"name": "privileged-lib", "template": "main"}), want: `"cluster-admin-sa"`},
		{name: "step referencing a cluster template", spec: stepsRef(map[string]any{"name": "platform-ops", "template": "main", "clusterScope": true}), want: `"platform-admin"`},
		{name: "step referencing a safe template", spec: stepsRef(map[string]any{"name": "safe-lib", "template": "main"}), allowed: true},
	})
}

func TestBypassArgoUnresolvableRef(t *testing.T) {
	refAttempts(t, []refAttempt{
		{name: "template that does not exist yet", spec: map[string]any{"workflowTemplateRef": map[string]any{"name": "created-later"}},
			want: "scope.template_ref"},
		{name: "step referencing a missing template", spec: stepsRef(map[string]any{"name": "safe-lib", "template": "nope"}), want: "scope.template_ref"},
	})
}

// TestBypassArgoClusterWorkflowTemplateByAgent: an agent scoped to one
// namespace cannot plant a ClusterWorkflowTemplate, which every
// namespace's Workflows could then reference.
func TestBypassArgoClusterWorkflowTemplateByAgent(t *testing.T) {
	w := newWatchedAgent(t)
	a := admit(t, w.e.h, argoFixture(t, "admission", "clusterworkflowtemplate.create.json"))
	if a.Allowed || !strings.Contains(a.Message, "scope.cluster") {
		t.Fatalf("an agent's ClusterWorkflowTemplate: allowed=%v %q, want refused by scope.cluster", a.Allowed, a.Message)
	}
}

// spawned is the review of a Workflow the controller creates for the
// CronWorkflow agents/hello-world, or, with by set, of a Workflow
// someone else creates carrying the same label and ownerReference.
func spawned(t *testing.T, i int, by string) []byte {
	t.Helper()
	var review map[string]any
	if err := json.Unmarshal(argoFixture(t, "admission", "workflow.create.cron-spawned.json"), &review); err != nil {
		t.Fatal(err)
	}
	req := review["request"].(map[string]any)
	name := fmt.Sprintf("hello-world-%d", 1764810000+i)
	req["uid"], req["name"] = fmt.Sprintf("spawn-%s-%d", strings.ReplaceAll(by, ":", "-"), i), name
	req["object"].(map[string]any)["metadata"].(map[string]any)["name"] = name
	if by != "" {
		req["userInfo"].(map[string]any)["username"] = by
	}
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBypassArgoCronWorkflowSpawn: an agent cannot run unlimited
// Workflows by scheduling them: the Workflows the controller spawns from
// its CronWorkflow are decided as the agent's and take its running-workflow
// slots.
func TestBypassArgoCronWorkflowSpawn(t *testing.T) {
	w := newWatchedAgent(t)
	w.e.call(http.MethodPatch, "/api/v1/agents/claude-bot", map[string]any{"labels": map[string]string{"argo.service_accounts": "agent-runner,cron-runner"}}, http.StatusOK, nil)
	if a := admit(t, w.e.h, argoFixture(t, "admission", "cronworkflow.create.json")); !a.Allowed {
		t.Fatalf("the agent's CronWorkflow was refused: %s", a.Message)
	}
	for i := range 5 {
		if a := admit(t, w.e.h, spawned(t, i, "")); !a.Allowed {
			t.Fatalf("spawned workflow %d refused within the agent's limit: %s", i, a.Message)
		}
	}
	a := admit(t, w.e.h, spawned(t, 5, ""))
	if a.Allowed || !strings.Contains(a.Message, "quota.concurrent_workflows") {
		t.Fatalf("a sixth spawned workflow: allowed=%v %q, want refused on the agent's concurrent_workflows", a.Allowed, a.Message)
	}
	var page struct {
		Items []struct {
			AgentName string `json:"agent_name"`
			Principal string `json:"principal"`
		} `json:"items"`
	}
	w.e.call(http.MethodGet, "/api/v1/audit?kind=decision", nil, http.StatusOK, &page)
	last := page.Items[len(page.Items)-1]
	if last.AgentName != "claude-bot" || last.Principal != "k8s:system:serviceaccount:agents:claude-bot" {
		t.Fatalf("spawned workflow decided as %+v, want the agent behind the CronWorkflow", last)
	}
}

// TestBypassArgoForgedCronLabel: the cron label and ownerReference mean
// something only on the controller's own requests. An agent that puts
// them on its own Workflow is decided as itself, and a person's Workflow
// with them does not become the agent's either.
func TestBypassArgoForgedCronLabel(t *testing.T) {
	w := newWatchedAgent(t)
	w.e.call(http.MethodPatch, "/api/v1/agents/claude-bot", map[string]any{"labels": map[string]string{"argo.service_accounts": "agent-runner,cron-runner"}}, http.StatusOK, nil)
	if a := admit(t, w.e.h, argoFixture(t, "admission", "cronworkflow.create.json")); !a.Allowed {
		t.Fatalf("the agent's CronWorkflow was refused: %s", a.Message)
	}
	// Another service account (not the controller) claims to be spawned
	// from the agent's CronWorkflow: it is itself, an unregistered agent.
	if a := admit(t, w.e.h, spawned(t, 0, "system:serviceaccount:agents:helper")); a.Allowed || !strings.Contains(a.Message, "unregistered_agent") {
		t.Fatalf("a forged spawn by another account: allowed=%v %q, want refused as itself (unregistered)", a.Allowed, a.Message)
	}
}

// TestBypassArgoUsernameWithInvisibleCharacter: a Kubernetes username that
// is no principal (a zero-width space after the agent's service account)
// is refused, not admitted as a person or left to the failurePolicy.
func TestBypassArgoUsernameWithInvisibleCharacter(t *testing.T) {
	w := newWatchedAgent(t)
	var review map[string]any
	if err := json.Unmarshal(admissionRequest(t, "zwsp-1", "zwsp-wf"), &review); err != nil {
		t.Fatal(err)
	}
	review["request"].(map[string]any)["userInfo"].(map[string]any)["username"] = "system:serviceaccount:agents:claude-bot\u200b"
	body, _ := json.Marshal(review)
	a := admit(t, w.e.h, body)
	if a.Allowed || !strings.Contains(a.Message, "event.principal contains a format character U+200B") {
		t.Fatalf("allowed=%v %q, want refused naming the character", a.Allowed, a.Message)
	}
}

// TestBypassArgoCronWorkflowRecreatedByPerson: once a person re-creates a
// CronWorkflow of the name an agent's had, its Workflows are the person's,
// not charged to (or refused as) the agent.
func TestBypassArgoCronWorkflowRecreatedByPerson(t *testing.T) {
	w := newWatchedAgent(t)
	w.e.call(http.MethodPatch, "/api/v1/agents/claude-bot", map[string]any{"labels": map[string]string{"argo.service_accounts": "agent-runner,cron-runner"}}, http.StatusOK, nil)
	if a := admit(t, w.e.h, argoFixture(t, "admission", "cronworkflow.create.json")); !a.Allowed {
		t.Fatalf("the agent's CronWorkflow was refused: %s", a.Message)
	}
	var review map[string]any
	if err := json.Unmarshal(argoFixture(t, "admission", "cronworkflow.create.json"), &review); err != nil {
		t.Fatal(err)
	}
	req := review["request"].(map[string]any)
	req["uid"] = "cron-by-person"
	req["userInfo"].(map[string]any)["username"] = "jane@example.com"
	delete(req["object"].(map[string]any)["metadata"].(map[string]any), "annotations") // no agent's claims
	body, _ := json.Marshal(review)
	if a := admit(t, w.e.h, body); !a.Allowed {
		t.Fatalf("the person's CronWorkflow was refused: %s", a.Message)
	}
	for i := range 7 {
		if a := admit(t, w.e.h, spawned(t, i, "")); !a.Allowed {
			t.Fatalf("the person's spawned workflow %d was refused: %s", i, a.Message)
		}
	}
}
