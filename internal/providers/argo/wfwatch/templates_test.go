package wfwatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func template(kind, ns, name, sa string) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": meta,
		"spec": map[string]any{
			"entrypoint": "main", "serviceAccountName": sa,
			"templates": []any{map[string]any{"name": "main", "serviceAccountName": sa + "-pod", "container": map[string]any{"image": "alpine:3.20"}}},
		},
	}}
}

// TestTemplateSource: the watch serves the templates Workflows reference
// from its caches, once they have synced.
func TestTemplateSource(t *testing.T) {
	c := newCluster(template("WorkflowTemplate", "team-a", "lib", "deployer"), template("ClusterWorkflowTemplate", "", "platform", "platform-admin"))
	w := start(t, c, newReleaser(), "team-a")
	ctx := context.Background()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err = w.WorkflowTemplate(ctx, "team-a", "lib"); err == nil {
			break
		}
	}
	tests := []struct {
		name    string
		get     func() (string, error)
		want    string
		wantErr string
	}{
		{name: "namespaced", get: func() (string, error) {
			s, err := w.WorkflowTemplate(ctx, "team-a", "lib")
			if err != nil {
				return "", err
			}
			return s.ServiceAccountName + "," + s.Templates[0].ServiceAccountName, nil
		}, want: "deployer,deployer-pod"},
		{name: "cluster", get: func() (string, error) {
			s, err := w.ClusterWorkflowTemplate(ctx, "platform")
			if err != nil {
				return "", err
			}
			return s.ServiceAccountName, nil
		}, want: "platform-admin"},
		{name: "missing", get: func() (string, error) { _, err := w.WorkflowTemplate(ctx, "team-a", "ghost"); return "", err }, wantErr: "not found"},
		{name: "namespace not watched", get: func() (string, error) { _, err := w.WorkflowTemplate(ctx, "team-b", "lib"); return "", err }, wantErr: "not watched"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
