// Package deploy holds the example Kubernetes manifests; its test checks
// that every manifest decodes strictly into the Kubernetes types it names
// and that the parts agentgate depends on say what the docs say.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifest is one YAML document of a file.
type manifest struct {
	file string
	doc  []byte
	meta metav1.TypeMeta
}

func manifests(t *testing.T) []manifest {
	t.Helper()
	var out []manifest
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path == "helm" {
			return fs.SkipDir // templates, not manifests: helm_test.go renders them
		}
		if path == "install.yaml" {
			return nil // the chart rendered: helm_test.go checks it
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r := utilyaml.NewYAMLReader(bufioReader(b))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			out = append(out, manifest{file: path, doc: doc, meta: tm})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no manifests found")
	}
	return out
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes()
}

// TestManifestsDecodeStrictly decodes every manifest into its type,
// refusing unknown or misspelt fields.
func TestManifestsDecodeStrictly(t *testing.T) {
	for _, m := range manifests(t) {
		t.Run(m.file+"/"+m.meta.Kind, func(t *testing.T) {
			var obj any
			switch m.meta.APIVersion + "/" + m.meta.Kind {
			case "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration":
				obj = &admissionregistrationv1.ValidatingWebhookConfiguration{}
			case "batch/v1/Job":
				obj = &batchv1.Job{}
			case "v1/ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1/Secret":
				obj = &corev1.Secret{}
			case "v1/ServiceAccount":
				obj = &corev1.ServiceAccount{}
			case "rbac.authorization.k8s.io/v1/ClusterRole":
				obj = &rbacv1.ClusterRole{}
			case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
				obj = &rbacv1.ClusterRoleBinding{}
			case "cert-manager.io/v1/Certificate", "cert-manager.io/v1/Issuer":
				checkCertManager(t, m) // its types are not a dependency
				return
			default:
				t.Fatalf("unknown kind %s %s: add it to this test", m.meta.APIVersion, m.meta.Kind)
			}
			if err := yaml.UnmarshalStrict(m.doc, obj); err != nil {
				t.Fatalf("does not decode strictly: %v", err)
			}
		})
	}
}

// checkCertManager checks the cert-manager objects by hand: the
// Certificate is the one the webhook configuration's inject-ca-from
// annotation and docs/integrations/argo.md name.
func checkCertManager(t *testing.T, m manifest) {
	t.Helper()
	var obj struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            map[string]any    `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(m.doc, &obj); err != nil {
		t.Fatal(err)
	}
	switch m.meta.Kind {
	case "Certificate":
		names, _ := obj.Spec["dnsNames"].([]any)
		if obj.Metadata.Namespace+"/"+obj.Metadata.Name != "agentgate/agentgate-webhook" || obj.Spec["secretName"] != "agentgate-webhook-tls" ||
			!slices.Contains(names, any("agentgate.agentgate.svc")) {
			t.Fatalf("certificate %s/%s %v", obj.Metadata.Namespace, obj.Metadata.Name, obj.Spec)
		}
	case "Issuer":
		if len(obj.Spec) == 0 {
			t.Fatal("issuer without a spec")
		}
	}
}

func decode[T any](t *testing.T, kind string) []T {
	t.Helper()
	var out []T
	for _, m := range manifests(t) {
		if m.meta.Kind != kind {
			continue
		}
		var v T
		if err := yaml.Unmarshal(m.doc, &v); err != nil {
			t.Fatalf("%s: %v", m.file, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("no %s manifest", kind)
	}
	return out
}

// TestWebhookConfiguration checks what docs/integrations/argo.md promises.
func TestWebhookConfiguration(t *testing.T) {
	for _, cfg := range decode[admissionregistrationv1.ValidatingWebhookConfiguration](t, "ValidatingWebhookConfiguration") {
		for _, w := range cfg.Webhooks {
			if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != "/argo/admission" {
				t.Errorf("%s: not sent to /argo/admission", w.Name)
			}
			if w.TimeoutSeconds == nil || *w.TimeoutSeconds > 10 {
				t.Errorf("%s: timeoutSeconds %v, want at most 10", w.Name, w.TimeoutSeconds)
			}
			if w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun {
				t.Errorf("%s: sideEffects %v, want NoneOnDryRun", w.Name, w.SideEffects)
			}
			if w.FailurePolicy == nil || !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
				t.Errorf("%s: failurePolicy and admissionReviewVersions [v1] are required", w.Name)
			}
			if w.NamespaceSelector == nil || len(w.NamespaceSelector.MatchLabels)+len(w.NamespaceSelector.MatchExpressions) == 0 {
				t.Errorf("%s: no namespaceSelector: every namespace, kube-system included, would be gated", w.Name)
			}
			var resources []string
			for _, r := range w.Rules {
				if !slices.Equal(r.APIGroups, []string{"argoproj.io"}) {
					t.Errorf("%s: rule for groups %v", w.Name, r.APIGroups)
				}
				resources = append(resources, r.Resources...)
			}
			slices.Sort(resources)
			if !slices.Equal(resources, []string{"clusterworkflowtemplates", "cronworkflows", "workflows", "workflows/status", "workflowtemplates"}) {
				t.Errorf("%s: resources %v", w.Name, resources)
			}
			controllerExcluded := false
			for _, mc := range w.MatchConditions {
				controllerExcluded = controllerExcluded || strings.Contains(mc.Expression, "request.userInfo.username != 'system:serviceaccount:argo:argo'")
			}
			if !controllerExcluded {
				t.Errorf("%s: no matchCondition keeps the workflow controller's requests away", w.Name)
			}
			excluded := map[string]bool{}
			for _, e := range w.NamespaceSelector.MatchExpressions {
				if e.Key == "kubernetes.io/metadata.name" && e.Operator == metav1.LabelSelectorOpNotIn {
					for _, v := range e.Values {
						excluded[v] = true
					}
				}
			}
			if !excluded["kube-system"] || !excluded["agentgate"] {
				t.Errorf("%s: namespaceSelector does not exclude kube-system and agentgate: %v", w.Name, w.NamespaceSelector.MatchExpressions)
			}
		}
	}
}

// TestWatchRBAC checks that the watch's role grants what the informer uses.
func TestWatchRBAC(t *testing.T) {
	roles := decode[rbacv1.ClusterRole](t, "ClusterRole")
	for _, resource := range []string{"workflows", "workflowtemplates", "clusterworkflowtemplates"} {
		found := false
		for _, r := range roles {
			for _, rule := range r.Rules {
				if slices.Contains(rule.APIGroups, "argoproj.io") && slices.Contains(rule.Resources, resource) {
					found = true
					for _, verb := range []string{"get", "list", "watch"} {
						if !slices.Contains(rule.Verbs, verb) {
							t.Errorf("%s lacks %s on %s", r.Name, verb, resource)
						}
					}
					if slices.ContainsFunc(rule.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" }) {
						t.Errorf("%s grants more than reading %s: %v", r.Name, resource, rule.Verbs)
					}
				}
			}
		}
		if !found {
			t.Errorf("no role grants reading %s.argoproj.io", resource)
		}
	}
}

// TestHookJobs checks that the Argo CD hook Jobs run the hook command.
func TestHookJobs(t *testing.T) {
	phases := map[string]bool{}
	for _, job := range decode[batchv1.Job](t, "Job") {
		hook := job.Annotations["argocd.argoproj.io/hook"]
		cs := job.Spec.Template.Spec.Containers
		if len(cs) != 1 || len(cs[0].Args) < 2 || cs[0].Args[0] != "hook" {
			t.Fatalf("%s: container does not run `admission hook`", job.Name)
		}
		if want := strings.ToLower(hook); cs[0].Args[1] != want {
			t.Errorf("%s: annotated %s but runs hook %s", job.Name, hook, cs[0].Args[1])
		}
		if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: restartPolicy %q, want Never (a refused sync must fail, not retry in place)", job.Name, job.Spec.Template.Spec.RestartPolicy)
		}
		phases[hook] = true
	}
	if !phases["PreSync"] || !phases["PostSync"] {
		t.Fatalf("hook Jobs for %v, want PreSync and PostSync", phases)
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
