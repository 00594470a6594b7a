package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/agentgate/agentgate/internal/testutil/kubeenv"
	"github.com/agentgate/agentgate/internal/testutil/pgtest"
	"github.com/agentgate/agentgate/internal/testutil/tlstest"
)

// argoCRDs is the directory of Argo Workflows' own CRDs (the minimal set
// Argo installs), from the argo-workflows module agentgate builds with.
func argoCRDs(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-workflows/v3").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("locate the argo-workflows module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "manifests", "base", "crds", "minimal")
}

// clusterValues render the chart for the cluster test: the defaults
// (PostgreSQL, two replicas, a generated CA) with the NetworkPolicy on.
var clusterValues = map[string]any{"networkPolicy": map[string]any{"enabled": true}}

// TestOnKubeAPIServer installs the chart's objects on a real kube-apiserver
// and etcd, then runs agentgate behind the chart's webhook configuration
// (URL form: no pods run) and sends it Workflows the way an agent would:
// with its service account's token, through the kube-apiserver.
func TestOnKubeAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cluster := kubeenv.Start(t, kubeenv.Options{CRDDirs: []string{argoCRDs(t)}})
	admin := newKube(t, cluster.Admin)
	ctx := context.Background()
	docs, err := render(t, clusterValues)
	if err != nil {
		t.Fatal(err)
	}
	admin.namespace(t, releaseNamespace, nil)

	t.Run("chart: server-side dry-run of every object", func(t *testing.T) {
		for _, doc := range docs {
			obj := toObject(t, doc)
			t.Run(obj.GetKind()+"/"+obj.GetName(), func(t *testing.T) {
				if err := admin.apply(ctx, obj, releaseNamespace, true); err != nil {
					t.Fatalf("dry-run apply: %v", err)
				}
			})
		}
	})
	t.Run("install.yaml: server-side dry-run of every object", func(t *testing.T) {
		b, err := os.ReadFile("install.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			if strings.TrimSpace(onlyComments(doc)) == "" {
				continue
			}
			obj := toObject(t, doc)
			t.Run(obj.GetKind()+"/"+obj.GetName(), func(t *testing.T) {
				if obj.GroupVersionKind().Group == "cert-manager.io" {
					// cert-manager's CRDs are not part of this control
					// plane; TestChartManifests checks the Certificate.
					t.Skip("cert-manager is not installed on the test control plane")
				}
				if err := admin.apply(ctx, obj, releaseNamespace, true); err != nil {
					t.Fatalf("dry-run apply: %v", err)
				}
			})
		}
	})

	// Install the chart's identity and RBAC for real: agentgate watches
	// Workflows and reads templates with exactly these rights.
	var webhook *unstructured.Unstructured
	for _, doc := range docs {
		obj := toObject(t, doc)
		switch obj.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding":
			if err := admin.apply(ctx, obj, releaseNamespace, false); err != nil {
				t.Fatalf("apply %s: %v", obj.GetKind(), err)
			}
		case "ValidatingWebhookConfiguration":
			webhook = obj
		}
	}
	if webhook == nil {
		t.Fatal("the chart renders no ValidatingWebhookConfiguration")
	}
	saUser := "system:serviceaccount:" + releaseNamespace + ":agentgate"
	t.Run("least RBAC", func(t *testing.T) {
		checkAccess(t, admin, saUser, []access{
			{verb: "watch", resource: "workflows", want: true},
			{verb: "list", resource: "workflows", want: true},
			{verb: "get", resource: "workflowtemplates", want: true},
			{verb: "list", resource: "clusterworkflowtemplates", want: true},
			{verb: "create", resource: "workflows"},
			{verb: "update", resource: "workflows"},
			{verb: "delete", resource: "workflows"},
			{verb: "get", resource: "secrets", core: true},
			{verb: "list", resource: "pods", core: true},
		})
	})

	// The governed cluster: agents and payments opt in with the chart's
	// label; kube-system carries it too, but the chart excludes it by name.
	governed := map[string]string{"agentgate.io/governed": "true"}
	for _, ns := range []string{"agents", "payments", "argo"} {
		admin.namespace(t, ns, governed)
	}
	if _, err := admin.typed.CoreV1().Namespaces().Patch(ctx, "kube-system", "application/merge-patch+json",
		[]byte(`{"metadata":{"labels":{"agentgate.io/governed":"true"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	grantWorkflows(t, admin, "system:serviceaccount:agents:claude-bot", "agents", "payments", "kube-system")
	grantWorkflows(t, admin, "system:serviceaccount:argo:argo", "agents", "payments")
	agent := admin.as(t, admin.serviceAccountToken(t, "agents", "claude-bot"))
	controller := admin.as(t, admin.serviceAccountToken(t, "argo", "argo"))

	// agentgate as the chart configures it, on PostgreSQL, with the
	// chart's service account reaching the cluster.
	dir := t.TempDir()
	bin := buildAdmission(t, dir, "-X main.version=cluster-test")
	certFile, keyFile, caPEM := tlstest.ServingPair(t, dir, 2)
	config := filepath.Join(dir, "agentgate.yaml")
	if err := os.WriteFile(config, []byte(chartConfig(t, docs)), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gate := startAgentgate(t, bin, config, map[string]string{
		"ADMISSION_SERVER_LISTEN":         listen,
		"ADMISSION_SERVER_TLS_CERT_FILE":  certFile,
		"ADMISSION_SERVER_TLS_KEY_FILE":   keyFile,
		"ADMISSION_DATA_DIR":              filepath.Join(dir, "data"),
		"ADMISSION_STORE_POSTGRES_DSN":    pgtest.DSN(t),
		"ADMISSION_AUTH_BOOTSTRAP_TOKEN":  "cluster-test-admin-token-0123456789",
		"ADMISSION_ARGO_WATCH_ENABLED":    "true",
		"ADMISSION_ARGO_WATCH_KUBECONFIG": admin.kubeconfig(t, admin.serviceAccountToken(t, releaseNamespace, "agentgate")),
		"ADMISSION_ARGO_WATCH_RESYNC":     "2s",
	}, caPEM)
	gate.api(t, "POST", "/api/v1/agents", map[string]any{"name": "claude-bot", "type": "data-pipeline", "owner": "data-team",
		"capabilities": []string{"workflow"}, "namespaces": []string{"agents"}, "labels": map[string]string{"argo.service_accounts": "agent-runner"},
		"principals": []string{"k8s:system:serviceaccount:agents:claude-bot"}}, nil)

	// The chart's webhook configuration, pointed at the process.
	toURLForm(t, webhook, "https://"+listen+"/argo/admission", caPEM)
	if err := admin.apply(ctx, webhook, "", false); err != nil {
		t.Fatalf("apply the webhook configuration: %v", err)
	}
	// The kube-apiserver picks the configuration (and the agent's
	// RoleBindings) up from its caches: wait until agentgate answers.
	waitGoverned(t, agent)
	// A human's template that runs as a powerful account, for the
	// indirection attempt below; admitted (no agent) and then cached by
	// agentgate's watch through the chart's RBAC.
	if _, err := admin.create(ctx, workflowTemplate("agents", "deploy-everything", "cluster-admin-sa")); err != nil {
		t.Fatalf("a human's WorkflowTemplate: %v", err)
	}

	admitted := admissionCases(t, agent, controller)
	t.Run("every decision is in the audit trail, chain intact", func(t *testing.T) {
		count := func(outcome string) int {
			var page struct{ Items []map[string]any }
			gate.api(t, "GET", "/api/v1/audit?kind=decision&agent=claude-bot&limit=1000&outcome="+outcome, nil, &page)
			return len(page.Items)
		}
		// One admission, and at least the four refusals above (the
		// template attempt may be refused more than once while the
		// watch's cache fills).
		if allowed, denied := count("allow"), count("deny"); allowed != 1 || denied < 4 {
			t.Fatalf("audited decisions of claude-bot: %d allowed, %d denied; want 1 and at least 4", allowed, denied)
		}
		var verify struct {
			OK      bool
			Checked int
		}
		gate.api(t, "GET", "/api/v1/audit/verify", nil, &verify)
		if !verify.OK || verify.Checked == 0 {
			t.Fatalf("audit chain: %+v", verify)
		}
	})
	t.Run("agentgate down: agents fail closed, the controller and kube-system do not", func(t *testing.T) {
		gate.stop()
		_, err := agent.create(ctx, workflow("agents", "agent-runner"))
		if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
			t.Fatalf("an agent's Workflow with agentgate down: %v, want refused by failurePolicy Fail", err)
		}
		if err := markPhase(ctx, controller, admitted, "Succeeded"); err != nil {
			t.Fatalf("the controller's status update with agentgate down: %v", err)
		}
		if _, err := agent.create(ctx, workflow("kube-system", "agent-runner")); err != nil {
			t.Fatalf("kube-system is excluded by name, yet: %v", err)
		}
	})
}

// admissionCases sends the agent's attempts through the kube-apiserver and
// returns one Workflow it admitted, still running.
func admissionCases(t *testing.T, agent, controller *kube) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	var running *unstructured.Unstructured
	tests := []struct {
		name    string
		attempt func() error
		// want is "" for admitted, else a text of the refusal.
		want string
	}{
		{name: "agent Workflow in its namespace is admitted", attempt: func() error {
			wf, err := agent.create(ctx, workflow("agents", "agent-runner"))
			running = wf
			return err
		}},
		{name: "agent Workflow in another governed namespace is refused", want: "scope.namespace",
			attempt: func() error { _, err := agent.create(ctx, workflow("payments", "agent-runner")); return err }},
		{name: "agent Workflow naming a powerful service account is refused", want: "scope.service_account",
			attempt: func() error { _, err := agent.create(ctx, workflow("agents", "cluster-admin-sa")); return err }},
		{name: "agent Workflow through a human's powerful WorkflowTemplate is refused", want: "scope.service_account",
			attempt: func() error {
				// Until agentgate's watch has cached the template the
				// reference is unresolved (refused as scope.template_ref);
				// wait for the refusal that shows it was followed.
				deadline := time.Now().Add(15 * time.Second)
				for {
					_, err := agent.create(ctx, templateRef("agents", "deploy-everything"))
					if err == nil || !strings.Contains(err.Error(), "scope.template_ref") || time.Now().After(deadline) {
						return err
					}
					time.Sleep(250 * time.Millisecond)
				}
			}},
		{name: "agent writing its own Workflow's status is refused", want: "workflow.status_write",
			attempt: func() error { return markPhase(ctx, agent, running, "Succeeded") }},
		{name: "the controller's status write skips the webhook", attempt: func() error {
			return markPhase(ctx, controller, running, "Running")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.attempt()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("admitted, want refused with %s", tc.want)
			case tc.want != "" && (!strings.Contains(err.Error(), `admission webhook "workflows.agentgate.io" denied the request`) ||
				!strings.Contains(err.Error(), tc.want)):
				t.Fatalf("refused with %v, want agentgate's refusal naming %s", err, tc.want)
			}
		})
	}
	if running == nil {
		t.Fatal("no Workflow was admitted")
	}
	return running
}

// access is one SubjectAccessReview and its expected answer.
type access struct {
	verb, resource string
	core           bool // a core ("") API group resource, else argoproj.io
	want           bool
}

func checkAccess(t *testing.T, k *kube, user string, cases []access) {
	t.Helper()
	allowed := func(c access) bool {
		group := "argoproj.io"
		if c.core {
			group = ""
		}
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			Groups:             []string{"system:serviceaccounts", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "agents", Verb: c.verb, Group: group, Resource: c.resource}}}
		got, err := k.typed.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Status.Allowed
	}
	// The authorizer reads RBAC from a cache that follows the writes just
	// made: wait until every grant shows, then check every case once.
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range cases {
		for c.want && !allowed(c) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %s", c.verb, c.resource), func(t *testing.T) {
			if got := allowed(c); got != c.want {
				t.Fatalf("%s may %s %s: %v, want %v", user, c.verb, c.resource, got, c.want)
			}
		})
	}
}

// grantWorkflows lets user write Argo objects in the namespaces, as a
// platform team grants an agent's or the controller's account.
func grantWorkflows(t *testing.T, k *kube, user string, namespaces ...string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "argo-writer"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows", "workflows/status", "workflowtemplates"},
		Verbs: []string{"get", "list", "create", "update", "patch"}}}}
	if _, err := k.typed.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	ns, name, _ := strings.Cut(strings.TrimPrefix(user, "system:serviceaccount:"), ":")
	for _, target := range namespaces {
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "argo-writer-" + ns + "-" + name, Namespace: target},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "argo-writer"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}}
		if _, err := k.typed.RbacV1().RoleBindings(target).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// chartConfig is the agentgate.yaml of the chart's ConfigMap.
func chartConfig(t *testing.T, docs []string) string {
	t.Helper()
	for _, doc := range docs {
		obj := toObject(t, doc)
		if obj.GetKind() == "ConfigMap" && obj.GetName() == "agentgate" {
			body, ok, _ := unstructured.NestedString(obj.Object, "data", "agentgate.yaml")
			if ok {
				return body
			}
		}
	}
	t.Fatal("the chart renders no agentgate.yaml")
	return ""
}

// toURLForm points the chart's webhook at url with the CA, keeping every
// other field (rules, selectors, matchConditions, failurePolicy, timeout).
func toURLForm(t *testing.T, vwc *unstructured.Unstructured, url string, caPEM []byte) {
	t.Helper()
	hooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	if len(hooks) == 0 {
		t.Fatal("the webhook configuration has no webhooks")
	}
	for i := range hooks {
		h := hooks[i].(map[string]any)
		h["clientConfig"] = map[string]any{"url": url, "caBundle": base64.StdEncoding.EncodeToString(caPEM)}
	}
	if err := unstructured.SetNestedSlice(vwc.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
}

// workflow is a one-step Workflow running as serviceAccount.
func workflow(ns, serviceAccount string) *unstructured.Unstructured {
	return object(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: etl-, namespace: ` + ns + `}
spec:
  serviceAccountName: ` + serviceAccount + `
  activeDeadlineSeconds: 600
  entrypoint: main
  templates:
    - name: main
      container: {image: "alpine:3.20", command: [echo, hi]}
`)
}

// templateRef is a Workflow that runs a WorkflowTemplate and names no
// service account of its own.
func templateRef(ns, template string) *unstructured.Unstructured {
	return object(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: etl-, namespace: ` + ns + `}
spec:
  activeDeadlineSeconds: 600
  workflowTemplateRef: {name: ` + template + `}
`)
}

func workflowTemplate(ns, name, serviceAccount string) *unstructured.Unstructured {
	return object(`apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  serviceAccountName: ` + serviceAccount + `
  entrypoint: main
  templates:
    - name: main
      container: {image: "alpine:3.20", command: [sh, -c, "kubectl delete ns --all"]}
`)
}

func object(doc string) *unstructured.Unstructured {
	obj, err := decodeObject(doc) // the test's own literals: a mistake is a bug in the test
	if err != nil {
		panic(err)
	}
	return obj
}

// waitGoverned sends the agent's out-of-scope Workflow until agentgate
// refuses it: until then the kube-apiserver has not yet picked up the
// webhook configuration or the agent's RoleBindings (what it admits
// meanwhile never reached agentgate).
func waitGoverned(t *testing.T, agent *kube) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := agent.create(context.Background(), workflow("payments", "agent-runner"))
		if err != nil && strings.Contains(err.Error(), `admission webhook "workflows.agentgate.io" denied the request`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agentgate never governed the agent's Workflows: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// markPhase writes status.phase of wf as k, as the workflow controller
// does (field manager workflow-controller).
func markPhase(ctx context.Context, k *kube, wf *unstructured.Unstructured, phase string) error {
	if wf == nil {
		return fmt.Errorf("no Workflow to update")
	}
	ri, err := k.resource(wf, "")
	if err != nil {
		return err
	}
	cur, err := ri.Get(ctx, wf.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedField(cur.Object, phase, "status", "phase"); err != nil {
		return err
	}
	_, err = ri.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "workflow-controller"})
	return err
}
