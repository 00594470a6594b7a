package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil/tlstest"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// releaseNamespace is the namespace render installs the chart into.
const releaseNamespace = "agentgate"

// kube is a cluster as one user sees it: typed and dynamic clients and a
// mapper from kinds to resources.
type kube struct {
	cfg    *rest.Config
	typed  kubernetes.Interface
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newKube(t *testing.T, cfg *rest.Config) *kube {
	t.Helper()
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &kube{cfg: cfg, typed: typed, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// as returns the cluster seen with a bearer token (a service account's).
func (k *kube) as(t *testing.T, token string) *kube {
	t.Helper()
	cfg := rest.AnonymousClientConfig(k.cfg)
	cfg.BearerToken = token
	return newKube(t, cfg)
}

// toObject decodes one YAML manifest.
func toObject(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj, err := decodeObject(doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return obj
}

// decodeObject decodes one YAML manifest into an unstructured object.
func decodeObject(doc string) (*unstructured.Unstructured, error) {
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("manifest is not YAML: %w", err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("manifest is not an object: %w", err)
	}
	return obj, nil
}

// resource finds obj's API resource; namespaced objects without a
// namespace go to ns.
func (k *kube) resource(obj *unstructured.Unstructured, ns string) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk, err)
	}
	if m.Scope.Name() == "namespace" {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(ns)
		}
		return k.dyn.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return k.dyn.Resource(m.Resource), nil
}

// apply server-side applies obj as `kubectl apply --server-side` does;
// dryRun asks the server to validate and admit it without storing it.
func (k *kube) apply(ctx context.Context, obj *unstructured.Unstructured, ns string, dryRun bool) error {
	ri, err := k.resource(obj, ns)
	if err != nil {
		return err
	}
	opts := metav1.ApplyOptions{FieldManager: "helm", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Apply(ctx, obj.GetName(), obj, opts)
	return err
}

// create creates obj and returns what the server stored.
func (k *kube) create(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := k.resource(obj, "")
	if err != nil {
		return nil, err
	}
	return ri.Create(ctx, obj, metav1.CreateOptions{})
}

// namespace creates a namespace with labels.
func (k *kube) namespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := k.typed.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
}

// serviceAccountToken creates a service account (if absent) and returns a
// token for it from the TokenRequest API, as a pod would be given.
func (k *kube) serviceAccountToken(t *testing.T, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	// A kube-apiserver that has just started on a busy machine may answer
	// a write with a timeout; such a write is asked again (one that did
	// land then exists).
	err := retry.OnError(apiBackoff(), transientAPIError, func() error {
		_, err := k.typed.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatalf("service account %s/%s: %v", ns, name, err)
	}
	exp := int64(3600)
	var tr *authenticationv1.TokenRequest
	err = retry.OnError(apiBackoff(), transientAPIError, func() (err error) {
		tr, err = k.typed.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

// apiBackoff spaces the attempts of a write the kube-apiserver timed out:
// ten over about a minute.
func apiBackoff() wait.Backoff {
	return wait.Backoff{Steps: 10, Duration: 500 * time.Millisecond, Factor: 1.5, Cap: 15 * time.Second}
}

// transientAPIError is an answer that says nothing about the request
// itself: the server timed out or asked to be called later.
func transientAPIError(err error) bool {
	return apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err)
}

// kubeconfig writes a kubeconfig for a bearer token on this cluster.
func (k *kube) kubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: k.cfg.Host, CertificateAuthorityData: k.cfg.CAData}
	cfg.AuthInfos["agentgate"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "agentgate"}
	cfg.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildAdmission builds the admission binary into dir, static (CGO off)
// as the Dockerfile builds it.
func buildAdmission(t *testing.T, dir string, ldflags string) string {
	t.Helper()
	bin := filepath.Join(dir, "admission")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/admission")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// agentgate is a running `admission serve` process.
type agentgate struct {
	url   string
	token string
	http  *http.Client
	cmd   *exec.Cmd
	log   *tlstest.SyncBuffer
}

// startAgentgate runs bin serve with the config file and environment, and
// waits for /readyz over TLS.
func startAgentgate(t *testing.T, bin, config string, env map[string]string, caPEM []byte) *agentgate {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	g := &agentgate{url: "https://" + env["ADMISSION_SERVER_LISTEN"], token: env["ADMISSION_AUTH_BOOTSTRAP_TOKEN"], log: &tlstest.SyncBuffer{},
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
	g.cmd = exec.Command(bin, "serve", "--config", config)
	g.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		g.cmd.Env = append(g.cmd.Env, k+"="+v)
	}
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("agentgate log:\n%s", g.log.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := g.http.Get(g.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agentgate never became ready (%v)\n%s", err, g.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends the process (SIGTERM, then SIGKILL after 10s).
func (g *agentgate) stop() {
	if g.cmd.Process == nil || g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
	}
}

// api calls agentgate's API as the bootstrap admin and decodes the answer.
func (g *agentgate) api(t *testing.T, method, path string, body, into any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if into != nil {
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}
