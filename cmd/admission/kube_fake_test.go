package main

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeKube is a Kubernetes API server for Argo Workflows over HTTPS, as
// client-go's informers use it: list (WorkflowList), watch (a stream of
// JSON watch events) and the streaming watch-list (sendInitialEvents with
// the initial-events-end bookmark), with bearer-token authentication.
type fakeKube struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	// absent makes the server answer 404 for Workflows, as a cluster
	// without Argo Workflows' CRDs does.
	absent bool

	mu       sync.Mutex
	rv       int
	objs     map[string]map[string]any // by namespace/name
	watchers map[int]*kubeWatcher
	nextID   int
	watches  chan string // namespace of each watch opened
	// templates are WorkflowTemplates and ClusterWorkflowTemplates by
	// resource, listed and watched (they do not change).
	templates map[string][]map[string]any
}

// addTemplate stores a WorkflowTemplate (ns set) or ClusterWorkflowTemplate
// whose spec runs as sa, with one template "main" running as sa too.
func (k *fakeKube) addTemplate(ns, name, sa string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rv++
	resource, kind, meta := "workflowtemplates", "WorkflowTemplate", map[string]any{"name": name, "namespace": ns, "resourceVersion": fmt.Sprint(k.rv)}
	if ns == "" {
		resource, kind, meta = "clusterworkflowtemplates", "ClusterWorkflowTemplate", map[string]any{"name": name, "resourceVersion": fmt.Sprint(k.rv)}
	}
	if k.templates == nil {
		k.templates = map[string][]map[string]any{}
	}
	k.templates[resource] = append(k.templates[resource], map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": meta,
		"spec": map[string]any{"entrypoint": "main", "serviceAccountName": sa,
			"templates": []any{map[string]any{"name": "main", "serviceAccountName": sa, "container": map[string]any{"image": "alpine:3.20"}}}},
	})
}

// serveTemplates lists and watches templates: a watch sends them and the
// initial-events-end bookmark, then stays open.
func (k *fakeKube) serveTemplates(w http.ResponseWriter, r *http.Request, resource, ns string) {
	k.mu.Lock()
	items := []any{}
	for _, obj := range k.templates[resource] {
		if ns == "" || obj["metadata"].(map[string]any)["namespace"] == ns {
			items = append(items, obj)
		}
	}
	rv := k.rv
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	if q.Get("watch") != "true" && q.Get("watch") != "1" {
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "List",
			"metadata": map[string]any{"resourceVersion": fmt.Sprint(rv)}, "items": items})
		return
	}
	w.WriteHeader(http.StatusOK)
	if q.Get("sendInitialEvents") == "true" {
		for _, obj := range items {
			b, _ := json.Marshal(map[string]any{"type": "ADDED", "object": obj})
			_, _ = w.Write(append(b, '\n'))
		}
		b, _ := json.Marshal(map[string]any{"type": "BOOKMARK", "object": map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
			"metadata": map[string]any{"resourceVersion": fmt.Sprint(rv), "annotations": map[string]any{"k8s.io/initial-events-end": "true"}},
		}})
		_, _ = w.Write(append(b, '\n'))
	}
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	<-r.Context().Done()
}

type kubeWatcher struct {
	ns     string
	events chan []byte
}

const workflowsPrefix = "/apis/argoproj.io/v1alpha1/"

func newFakeKube(t *testing.T) *fakeKube {
	k := &fakeKube{t: t, token: "kube-token-0123456789", objs: map[string]map[string]any{},
		watchers: map[int]*kubeWatcher{}, watches: make(chan string, 16)}
	k.srv = httptest.NewTLSServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.srv.Close)
	return k
}

// kubeconfig writes a kubeconfig for the server and returns its path.
func (k *fakeKube) kubeconfig() string {
	path := filepath.Join(k.t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: agentgate
  user:
    token: %s
contexts:
- name: test
  context: {cluster: test, user: agentgate}
current-context: test
`, k.srv.URL, base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.srv.Certificate().Raw})), k.token)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		k.t.Fatal(err)
	}
	return path
}

// put creates or replaces a Workflow with the given status phase and
// tells the watchers.
func (k *fakeKube) put(ns, name, phase string) {
	k.putBy(ns, name, phase, "workflow-controller")
}

// putBy is put with status.phase written by the given field manager, as
// the API server records it in metadata.managedFields.
func (k *fakeKube) putBy(ns, name, phase, manager string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rv++
	key := ns + "/" + name
	typ := "MODIFIED"
	if _, ok := k.objs[key]; !ok {
		typ = "ADDED"
	}
	obj := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name, "resourceVersion": fmt.Sprint(k.rv),
			"managedFields": []any{map[string]any{"manager": manager, "operation": "Update", "apiVersion": "argoproj.io/v1alpha1",
				"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:status": map[string]any{".": map[string]any{}, "f:phase": map[string]any{}}}}}},
		"spec":   map[string]any{"entrypoint": "main", "serviceAccountName": "agent-runner"},
		"status": map[string]any{"phase": phase},
	}
	k.objs[key] = obj
	k.notify(ns, typ, obj)
}

func (k *fakeKube) remove(ns, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key := ns + "/" + name
	obj, ok := k.objs[key]
	if !ok {
		return
	}
	delete(k.objs, key)
	k.rv++
	obj["metadata"].(map[string]any)["resourceVersion"] = fmt.Sprint(k.rv)
	k.notify(ns, "DELETED", obj)
}

func (k *fakeKube) notify(ns, typ string, obj map[string]any) {
	b, _ := json.Marshal(map[string]any{"type": typ, "object": obj})
	for _, w := range k.watchers {
		if w.ns == "" || w.ns == ns {
			w.events <- b
		}
	}
}

func (k *fakeKube) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+k.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if resource, ns, ok := templatesPath(r.URL.Path); ok && r.Method == http.MethodGet && !k.absent {
		k.serveTemplates(w, r, resource, ns)
		return
	}
	ns, ok := workflowsNamespace(r.URL.Path)
	if !ok || r.Method != http.MethodGet || k.absent {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	if q.Get("watch") == "true" || q.Get("watch") == "1" {
		k.watch(w, r, ns, q.Get("sendInitialEvents") == "true")
		return
	}
	k.mu.Lock()
	items := k.list(ns)
	rv := k.rv
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowList",
		"metadata": map[string]any{"resourceVersion": fmt.Sprint(rv)}, "items": items})
}

// workflowsNamespace parses /apis/argoproj.io/v1alpha1/[namespaces/<ns>/]workflows.
func workflowsNamespace(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, workflowsPrefix)
	if !ok {
		return "", false
	}
	if rest == "workflows" {
		return "", true
	}
	parts := strings.Split(rest, "/")
	if len(parts) == 3 && parts[0] == "namespaces" && parts[2] == "workflows" {
		return parts[1], true
	}
	return "", false
}

// templatesPath parses /apis/argoproj.io/v1alpha1/[namespaces/<ns>/]workflowtemplates
// and /apis/argoproj.io/v1alpha1/clusterworkflowtemplates.
func templatesPath(path string) (resource, ns string, ok bool) {
	rest, ok := strings.CutPrefix(path, workflowsPrefix)
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1 && (parts[0] == "workflowtemplates" || parts[0] == "clusterworkflowtemplates"):
		return parts[0], "", true
	case len(parts) == 3 && parts[0] == "namespaces" && parts[2] == "workflowtemplates":
		return parts[2], parts[1], true
	}
	return "", "", false
}

func (k *fakeKube) list(ns string) []any {
	items := []any{}
	for _, obj := range k.objs {
		if ns == "" || obj["metadata"].(map[string]any)["namespace"] == ns {
			items = append(items, obj)
		}
	}
	return items
}

func (k *fakeKube) watch(w http.ResponseWriter, r *http.Request, ns string, initial bool) {
	fl, _ := w.(http.Flusher)
	k.mu.Lock()
	kw := &kubeWatcher{ns: ns, events: make(chan []byte, 256)}
	id := k.nextID
	k.nextID++
	k.watchers[id] = kw
	if initial {
		for _, obj := range k.list(ns) {
			b, _ := json.Marshal(map[string]any{"type": "ADDED", "object": obj})
			kw.events <- b
		}
		b, _ := json.Marshal(map[string]any{"type": "BOOKMARK", "object": map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
			"metadata": map[string]any{"resourceVersion": fmt.Sprint(k.rv), "annotations": map[string]any{"k8s.io/initial-events-end": "true"}},
		}})
		kw.events <- b
	}
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.watchers, id)
		k.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if fl != nil {
		fl.Flush()
	}
	k.watches <- ns
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-kw.events:
			_, _ = w.Write(append(b, '\n'))
			if fl != nil {
				fl.Flush()
			}
		}
	}
}
