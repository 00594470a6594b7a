package deploy

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/config"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

var update = flag.Bool("update", false, "rewrite deploy/install.yaml from the chart")

const chartDir = "helm/agentgate"

// installValues render deploy/install.yaml: the chart's defaults with TLS
// from cert-manager (a generated CA would change at every render).
var installValues = map[string]any{"tls": map[string]any{"mode": "certManager",
	"certManager": map[string]any{"issuerRef": map[string]any{"name": "agentgate-selfsigned", "kind": "Issuer"}}}}

// render renders the chart as `helm template agentgate --namespace
// agentgate` would, with values over the defaults; the manifests come back
// in file order, one document each.
func render(t *testing.T, values map[string]any) ([]string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := util.ToRenderValuesWithSchemaValidation(ch, values,
		common.ReleaseOptions{Name: "agentgate", Namespace: "agentgate", IsInstall: true}, common.DefaultCapabilities, false)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for name := range out {
		if strings.HasSuffix(name, ".yaml") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var docs []string
	for _, name := range names {
		for _, doc := range strings.Split(out[name], "\n---\n") {
			if strings.TrimSpace(onlyComments(doc)) != "" {
				docs = append(docs, strings.TrimSpace(doc)+"\n")
			}
		}
	}
	return docs, nil
}

// kindOf returns a document's kind.
func kindOf(t *testing.T, doc string) string {
	t.Helper()
	var m struct{ Kind string }
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
	}
	return m.Kind
}

func TestChartLint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"defaults", nil},
		{"cert-manager", installValues},
		{"sqlite", map[string]any{"replicaCount": 1, "store": map[string]any{"driver": "sqlite"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := lint.RunAll(chartDir, tc.values, "agentgate", lint.WithSkipSchemaValidation(false))
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				}
			}
		})
	}
}

func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"two replicas on SQLite", map[string]any{"store": map[string]any{"driver": "sqlite"}}, "sqlite allows one replica"},
		{"PostgreSQL without its Secret", map[string]any{"store": map[string]any{"postgres": map[string]any{"existingSecret": ""}}}, "existingSecret must name a Secret"},
		{"PostgreSQL without a bootstrap token", map[string]any{"bootstrapToken": map[string]any{"existingSecret": ""}}, "bootstrapToken.existingSecret is required"},
		{"cert-manager without an issuer", map[string]any{"tls": map[string]any{"mode": "certManager"}}, "needs tls.certManager.issuerRef.name"},
		{"an unknown store", map[string]any{"store": map[string]any{"driver": "mysql"}}, "driver"},
		{"an unknown value", map[string]any{"replicas": 3}, "replicas"},
		{"a webhook timeout past the API server's limit", map[string]any{"webhook": map[string]any{"timeoutSeconds": 31}}, "timeoutSeconds"},
		{"a scrape port the chart does not serve", map[string]any{"serviceMonitor": map[string]any{"enabled": true, "port": "http"}}, "port"},
		{"a GC target without a memory limit", map[string]any{"goMemLimit": ""}, "goGC needs goMemLimit"},
		{"a GC target past the schema's bound", map[string]any{"goGC": 5000}, "goGC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestChartManifests renders the defaults and checks what a platform team
// relies on, each document decoded strictly into its Kubernetes type.
func TestChartManifests(t *testing.T) {
	docs, err := render(t, map[string]any{"serviceMonitor": map[string]any{"enabled": true},
		"prometheusRule": map[string]any{"enabled": true}, "networkPolicy": map[string]any{"enabled": true},
		"existingSecret": "agentgate-secrets", "policies": map[string]any{"custom.rego": "package agentgate\n"}})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, doc := range docs {
		kind := kindOf(t, doc)
		kinds[kind]++
		switch kind {
		case "Deployment":
			var d appsv1.Deployment
			strict(t, doc, &d)
			checkDeployment(t, d)
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			strict(t, doc, &p)
			if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() != 1 {
				t.Errorf("PDB minAvailable %v", p.Spec.MinAvailable)
			}
		case "ValidatingWebhookConfiguration":
			var v admissionregistrationv1.ValidatingWebhookConfiguration
			strict(t, doc, &v)
			checkWebhook(t, v)
		case "Secret":
			var s corev1.Secret
			strict(t, doc, &s)
			for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
				if len(s.Data[k]) == 0 {
					t.Errorf("generated TLS Secret has no %s", k)
				}
			}
		case "ConfigMap":
			var c corev1.ConfigMap
			strict(t, doc, &c)
			if body, ok := c.Data["agentgate.yaml"]; ok {
				checkConfig(t, body)
			}
		case "Service":
			var s corev1.Service
			strict(t, doc, &s)
			checkService(t, s)
		case "ServiceMonitor":
			// By default Prometheus scrapes the health port, which
			// server.max_connections does not bound.
			if ep := scrapeEndpoint(t, doc); ep.Port != "metrics" || ep.Scheme != "http" || ep.Path != "/metrics" {
				t.Errorf("ServiceMonitor scrapes %+v, want /metrics on the Service's metrics port over http", ep)
			}
		}
	}
	for _, k := range []string{"Deployment", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "PodDisruptionBudget",
		"ValidatingWebhookConfiguration", "Secret", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"} {
		if kinds[k] == 0 {
			t.Errorf("no %s rendered (got %v)", k, kinds)
		}
	}
	if kinds["ConfigMap"] != 2 {
		t.Errorf("%d ConfigMaps, want the configuration and the policies", kinds["ConfigMap"])
	}
}

// TestChartServiceMonitorHTTPS: serviceMonitor.port https scrapes the HTTPS
// port, verified against the chart's CA.
func TestChartServiceMonitorHTTPS(t *testing.T) {
	docs, err := render(t, map[string]any{"serviceMonitor": map[string]any{"enabled": true, "port": "https"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, doc := range docs {
		if kindOf(t, doc) != "ServiceMonitor" {
			continue
		}
		found = true
		ep := scrapeEndpoint(t, doc)
		if ep.Port != "https" || ep.Scheme != "https" || ep.TLSConfig == nil || ep.TLSConfig.CA.Secret.Key != "ca.crt" ||
			ep.TLSConfig.ServerName != "agentgate.agentgate.svc" {
			t.Errorf("ServiceMonitor scrapes %+v, want the HTTPS port verified against the chart's CA", ep)
		}
	}
	if !found {
		t.Fatal("no ServiceMonitor rendered")
	}
}

// endpoint is the part of a ServiceMonitor's endpoint the chart sets.
type endpoint struct {
	Port      string `json:"port"`
	Scheme    string `json:"scheme"`
	Path      string `json:"path"`
	Interval  string `json:"interval"`
	TLSConfig *struct {
		ServerName string `json:"serverName"`
		CA         struct {
			Secret corev1.SecretKeySelector `json:"secret"`
		} `json:"ca"`
	} `json:"tlsConfig"`
}

// scrapeEndpoint decodes a ServiceMonitor strictly and returns its one
// endpoint.
func scrapeEndpoint(t *testing.T, doc string) endpoint {
	t.Helper()
	var sm struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Selector  map[string]any `json:"selector"`
			Endpoints []endpoint     `json:"endpoints"`
		} `json:"spec"`
	}
	strict(t, doc, &sm)
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	return sm.Spec.Endpoints[0]
}

// checkService: the Service serves the webhook on https and the health
// listener's /metrics on metrics (8081, the container's health port).
func checkService(t *testing.T, s corev1.Service) {
	t.Helper()
	ports := map[string]corev1.ServicePort{}
	for _, p := range s.Spec.Ports {
		ports[p.Name] = p
	}
	if p, ok := ports["https"]; !ok || p.TargetPort.String() != "https" {
		t.Errorf("Service port https %+v", p)
	}
	if p, ok := ports["metrics"]; !ok || p.Port != 8081 || p.TargetPort.String() != "health" {
		t.Errorf("Service port metrics %+v, want 8081 to the container's health port", p)
	}
}

func strict(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
}

func checkDeployment(t *testing.T, d appsv1.Deployment) {
	t.Helper()
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2 by default", d.Spec.Replicas)
	}
	ps := d.Spec.Template.Spec
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot ||
		ps.SecurityContext.SeccompProfile == nil || ps.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", ps.SecurityContext)
	}
	if ps.Affinity == nil || ps.Affinity.PodAntiAffinity == nil {
		t.Error("no pod anti-affinity")
	}
	c := ps.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
		*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", sc)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("probes are not /healthz and /readyz")
	}
	// The probes use the health port, which server.max_connections does
	// not bound, so that they are answered when the HTTPS port is at it.
	healthPort := false
	for _, p := range c.Ports {
		healthPort = healthPort || (p.Name == "health" && p.ContainerPort == 8081)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if !healthPort || p == nil || p.HTTPGet.Port.String() != "health" || p.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s probe %+v is not on the health port (8081, plain HTTP)", name, p)
		}
	}
	// A long migration at start must not be cut off by the liveness probe.
	if sp := c.StartupProbe; sp == nil || sp.HTTPGet.Path != "/healthz" || sp.PeriodSeconds*sp.FailureThreshold < 15*60 {
		t.Errorf("startup probe %+v allows less than the 15 minutes of startupMinutes", sp)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}
	dsn := false
	for _, e := range c.Env {
		if e.Name == "ADMISSION_STORE_POSTGRES_DSN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			dsn = true
		}
		if strings.Contains(strings.ToLower(e.Name), "dsn") && e.Value != "" {
			t.Errorf("%s is in the manifest in clear", e.Name)
		}
	}
	if !dsn {
		t.Error("the PostgreSQL DSN does not come from a Secret")
	}
	token, memLimit, gogc := false, false, false
	for _, e := range c.Env {
		token = token || (e.Name == "ADMISSION_AUTH_BOOTSTRAP_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil)
		gogc = gogc || (e.Name == "GOGC" && e.Value == "400")
		if e.Name == "GOMEMLIMIT" {
			// The soft limit must sit under the container's hard one.
			soft, err := resource.ParseQuantity(strings.TrimSuffix(strings.Replace(e.Value, "MiB", "Mi", 1), "B"))
			memLimit = err == nil && soft.Cmp(*c.Resources.Limits.Memory()) < 0
		}
	}
	if !memLimit {
		t.Error("no GOMEMLIMIT under the container's memory limit")
	}
	if !gogc {
		t.Error("no GOGC=400 beside GOMEMLIMIT")
	}
	if !token {
		t.Error("the bootstrap token does not come from a Secret")
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "agentgate-secrets" {
		t.Errorf("envFrom %+v, want the existing Secret", c.EnvFrom)
	}
}

func checkWebhook(t *testing.T, v admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	w := v.Webhooks[0]
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail || w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 {
		t.Errorf("failurePolicy %v, timeoutSeconds %v", w.FailurePolicy, w.TimeoutSeconds)
	}
	if len(w.ClientConfig.CABundle) == 0 || w.ClientConfig.Service == nil || w.ClientConfig.Service.Namespace != "agentgate" {
		t.Errorf("clientConfig %+v", w.ClientConfig)
	}
	excluded := map[string]bool{}
	for _, e := range w.NamespaceSelector.MatchExpressions {
		if e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn" {
			for _, v := range e.Values {
				excluded[v] = true
			}
		}
	}
	if !excluded["kube-system"] || !excluded["agentgate"] {
		t.Errorf("namespaceSelector excludes %v, want kube-system and the release namespace", excluded)
	}
	if len(w.MatchConditions) != 1 || !strings.Contains(w.MatchConditions[0].Expression, "system:serviceaccount:argo:argo") {
		t.Errorf("matchConditions %+v", w.MatchConditions)
	}
}

// TestInstallYAMLCurrent: deploy/install.yaml is the chart rendered with
// TLS from cert-manager (go test ./deploy -run TestInstallYAMLCurrent -update
// rewrites it).
func TestInstallYAMLCurrent(t *testing.T) {
	docs, err := render(t, installValues)
	if err != nil {
		t.Fatal(err)
	}
	want := "# agentgate for kubectl: the Helm chart deploy/helm/agentgate rendered with\n" +
		"# TLS from cert-manager (an Issuer named agentgate-selfsigned) in the\n" +
		"# namespace agentgate. Create the namespace and the Secrets\n" +
		"# agentgate-postgres (key dsn) and agentgate-bootstrap (key token) first.\n" +
		"# Regenerate: go test ./deploy -run TestInstallYAMLCurrent -update\n---\n" + strings.Join(docs, "---\n")
	path := "install.yaml"
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is not the chart rendered; run: go test ./deploy -run TestInstallYAMLCurrent -update", filepath.Join("deploy", path))
	}
	for _, doc := range docs {
		var obj any
		switch kind := kindOf(t, doc); kind {
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "Service":
			obj = &corev1.Service{}
		case "ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "ClusterRole":
			obj = &rbacv1.ClusterRole{}
		case "ClusterRoleBinding":
			obj = &rbacv1.ClusterRoleBinding{}
		case "ValidatingWebhookConfiguration":
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			strict(t, doc, v)
			if v.Annotations["cert-manager.io/inject-ca-from"] != "agentgate/agentgate" {
				t.Errorf("the webhook's CA is not injected from the chart's Certificate: %v", v.Annotations)
			}
			continue
		case "Certificate":
			if !strings.Contains(doc, "secretName: agentgate-tls") || !strings.Contains(doc, "agentgate.agentgate.svc") {
				t.Errorf("Certificate:\n%s", doc)
			}
			continue
		default:
			t.Fatalf("install.yaml has a %s: add it to this test", kind)
		}
		strict(t, doc, obj)
	}
}

// onlyComments blanks a document that is only comments.
func onlyComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// checkConfig loads the chart's configuration file as agentgate would, with
// the DSN from the environment as the Deployment gives it.
func checkConfig(t *testing.T, body string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agentgate.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ADMISSION_STORE_POSTGRES_DSN": "postgres://agentgate@db:5432/agentgate",
		"ADMISSION_AUTH_BOOTSTRAP_TOKEN": "bootstrap-token-0123456789abcdef"}
	cfg, err := config.Load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("agentgate refuses the chart's configuration: %v\n%s", err, body)
	}
	if cfg.Server.Listen != "0.0.0.0:8443" || cfg.Server.HealthListen != "0.0.0.0:8081" || cfg.Server.TLSCertFile != "/tls/tls.crt" || cfg.Store.Driver != "postgres" ||
		cfg.DataDir != "/data" || cfg.Policy.Dir != "/policies" {
		t.Fatalf("chart configuration loads as %+v", cfg)
	}
}
