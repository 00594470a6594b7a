package kubeenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// moduleDir is the pinned module the kube-apiserver is built from.
func moduleDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("kubeenv: cannot locate the source directory")
	}
	return filepath.Join(filepath.Dir(file), "apiserver"), nil
}

// cacheRoot is $AGENTGATE_TEST_CACHE, else <user cache dir>/agentgate-test.
func cacheRoot() (string, error) {
	if d := os.Getenv("AGENTGATE_TEST_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kubeenv: no cache directory: %w", err)
	}
	return filepath.Join(d, "agentgate-test"), nil
}

// assetKey names one build: the pinned module's go.mod and go.sum, the Go
// version and the platform. A change to any of them builds anew.
func assetKey(mod string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", fmt.Errorf("kubeenv: %w", err)
		}
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Assets returns a directory holding kube-apiserver and etcd, as envtest's
// BinaryAssetsDirectory wants it, building and caching the kube-apiserver
// when needed. logf reports a build, which takes minutes the first time.
func Assets(ctx context.Context, logf func(string, ...any)) (string, error) {
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		return "", fmt.Errorf("kubeenv: etcd not found (Debian: apt-get install etcd-server): %w", err)
	}
	mod, err := moduleDir()
	if err != nil {
		return "", err
	}
	key, err := assetKey(mod)
	if err != nil {
		return "", err
	}
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "kube-apiserver-"+key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("kubeenv: %w", err)
	}
	// One build at a time across test processes.
	unlock, err := lock(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	bin := filepath.Join(dir, "kube-apiserver")
	if _, err := os.Stat(bin); err != nil {
		logf("building kube-apiserver from %s into %s (cached afterwards)", mod, dir)
		if err := build(ctx, mod, bin); err != nil {
			return "", err
		}
	}
	link := filepath.Join(dir, "etcd")
	if cur, err := os.Readlink(link); err != nil || cur != etcd {
		_ = os.Remove(link)
		if err := os.Symlink(etcd, link); err != nil {
			return "", fmt.Errorf("kubeenv: %w", err)
		}
	}
	return dir, nil
}

// build runs go build on k8s.io/kubernetes/cmd/kube-apiserver in the pinned
// module, writing to a temporary file renamed into place when complete.
func build(ctx context.Context, mod, bin string) error {
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, "k8s.io/kubernetes/cmd/kube-apiserver")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("kubeenv: go build kube-apiserver: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return fmt.Errorf("kubeenv: %w", err)
	}
	return nil
}

// lock takes an exclusive flock on path.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubeenv: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("kubeenv: lock %s: %w", path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
}
