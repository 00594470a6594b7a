package kubeenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAssets builds (or finds cached) the kube-apiserver and checks both
// binaries answer --version.
func TestAssets(t *testing.T) {
	dir, err := Assets(context.Background(), t.Logf)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, tc := range []struct{ bin, want string }{
		{bin: "kube-apiserver", want: "Kubernetes"},
		{bin: "etcd", want: "etcd Version"},
	} {
		t.Run(tc.bin, func(t *testing.T) {
			out, err := exec.Command(filepath.Join(dir, tc.bin), "--version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("%s --version: %v\n%s", tc.bin, err, out)
			}
		})
	}
}
