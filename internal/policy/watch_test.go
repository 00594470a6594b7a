package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/policies"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startWatch runs e.Watch until the test ends.
func startWatch(t *testing.T, e *Engine, dir string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Watch(ctx, dir, 20*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v", err)
		}
	})
}

func TestWatch(t *testing.T) {
	ctx := context.Background()
	dir := copyBuiltin(t)
	var log reloadLog
	e, err := LoadDir(ctx, dir, Options{OnReload: log.record})
	if err != nil {
		t.Fatal(err)
	}
	rev0 := e.Revision()
	startWatch(t, e, dir)

	setBuildLimit(t, dir, "20", "30")
	waitFor(t, "the changed set", func() bool { return e.Revision() != rev0 })
	rev1 := e.Revision()
	if got := buildLimit(t, e); got != 30 {
		t.Errorf("limit = %d, want 30", got)
	}

	writeFile(t, filepath.Join(dir, "admission.rego"), brokenRego)
	waitFor(t, "the broken set to be rejected", func() bool { return e.Status().LastError != "" })
	// A rejected content is tried once, not at every poll.
	time.Sleep(200 * time.Millisecond)
	rejected := 0
	for _, ev := range log.all() {
		if ev.Err != nil {
			rejected++
		}
	}
	if rejected != 1 {
		t.Errorf("%d rejected reload events for one broken content, want 1", rejected)
	}
	if e.Revision() != rev1 || !e.Status().Ready {
		t.Errorf("broken set replaced the good one")
	}

	// Restoring the original content serves it again.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dir, policies.FS()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restored set", func() bool { return e.Revision() == rev0 && e.Status().LastError == "" })
}

func TestWatchMissingDirectory(t *testing.T) {
	ctx := context.Background()
	dir := copyBuiltin(t)
	var log reloadLog
	e, err := LoadDir(ctx, dir, Options{OnReload: log.record})
	if err != nil {
		t.Fatal(err)
	}
	rev := e.Revision()
	startWatch(t, e, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the read error", func() bool { return e.Status().LastError != "" })
	if e.Revision() != rev || !e.Status().Ready {
		t.Error("the served set was dropped")
	}
	if _, err := e.Evaluate(ctx, agentInput(testAgent(), testEvent())); err != nil {
		t.Errorf("Evaluate while the directory is missing: %v", err)
	}
	if err := os.CopyFS(dir, policies.FS()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the error to clear", func() bool { return e.Status().LastError == "" })
	if e.Revision() != rev {
		t.Errorf("revision %s, want %s", e.Revision(), rev)
	}
}

// TestWatchConfigMapSwap mimics a Kubernetes ConfigMap volume: the files are
// symlinks through "..data" to a timestamped directory, and an update swaps
// "..data" atomically.
func TestWatchConfigMapSwap(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeVersion := func(name string, limit string) {
		dir := filepath.Join(root, name)
		if err := os.CopyFS(dir, policies.FS()); err != nil {
			t.Fatal(err)
		}
		setBuildLimit(t, dir, "20", limit)
	}
	writeVersion("..2025_06_01_00_00_00.1", "20")
	if err := os.Symlink("..2025_06_01_00_00_00.1", filepath.Join(root, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		if err := os.Symlink(filepath.Join("..data", ent.Name()), filepath.Join(root, ent.Name())); err != nil {
			t.Fatal(err)
		}
	}

	e, err := LoadDir(ctx, root, Options{})
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if got := buildLimit(t, e); got != 20 {
		t.Fatalf("limit = %d, want 20", got)
	}
	// The hidden ..data and ..<timestamp> directories are not read twice.
	files, err := readSet(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(f.name, ".") {
			t.Errorf("read hidden file %s", f.name)
		}
	}
	rev0 := e.Revision()
	startWatch(t, e, root)

	writeVersion("..2025_06_02_00_00_00.1", "35")
	tmp := filepath.Join(root, "..data_tmp")
	if err := os.Symlink("..2025_06_02_00_00_00.1", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "..data")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the swapped set", func() bool { return e.Revision() != rev0 })
	if got := buildLimit(t, e); got != 35 {
		t.Errorf("limit = %d, want 35", got)
	}
}

func TestWatchArguments(t *testing.T) {
	e := builtinEngine(t)
	if err := e.Watch(context.Background(), t.TempDir(), 0); err == nil {
		t.Error("Watch with a zero interval succeeded")
	}
	if err := e.Reload(context.Background(), nil, "nothing"); err == nil {
		t.Error("Reload without a file system succeeded")
	}
	if !e.Status().Ready || e.Status().LastError == "" {
		t.Errorf("status = %+v", e.Status())
	}
}
