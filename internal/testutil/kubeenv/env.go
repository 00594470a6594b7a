package kubeenv

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Cluster is a running control plane: etcd and kube-apiserver.
type Cluster struct {
	// Env is the envtest environment, for AddUser and the like.
	Env *envtest.Environment
	// Admin is a rest.Config of a system:masters user.
	Admin *rest.Config
}

// Options says what to install once the control plane is up.
type Options struct {
	// CRDDirs are directories (or files) of CustomResourceDefinitions,
	// installed and waited for before Start returns.
	CRDDirs []string
}

// Start runs a control plane for the test and stops it at cleanup. Without
// etcd, or when the kube-apiserver cannot be built, the test is skipped, or
// failed with CI=true.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir, err := Assets(ctx, t.Logf)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		CRDDirectoryPaths:        opts.CRDDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("kubeenv: start the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("kubeenv: stop: %v", err)
		}
	})
	return &Cluster{Env: env, Admin: cfg}
}
