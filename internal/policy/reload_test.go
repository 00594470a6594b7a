package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/policies"
)

// reloadLog records OnReload events.
type reloadLog struct {
	mu     sync.Mutex
	events []ReloadEvent
}

func (l *reloadLog) record(ev ReloadEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *reloadLog) all() []ReloadEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ReloadEvent(nil), l.events...)
}

// copyBuiltin writes the built-in set into a new directory below the test's
// temporary directory.
func copyBuiltin(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policies")
	if err := os.CopyFS(dir, policies.FS()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setBuildLimit rewrites the new coding agent's build limit in dir.
func setBuildLimit(t *testing.T, dir, from, to string) {
	t.Helper()
	p := filepath.Join(dir, "data", "tiers.yaml")
	s := readFile(t, p)
	if !strings.Contains(s, "builds_per_hour: "+from) {
		t.Fatalf("tiers.yaml has no builds_per_hour: %s", from)
	}
	writeFile(t, p, strings.Replace(s, "builds_per_hour: "+from, "builds_per_hour: "+to, 1))
}

// buildLimit evaluates a new coding agent's build and returns its limit.
func buildLimit(t *testing.T, e *Engine) int64 {
	t.Helper()
	res, err := e.Evaluate(context.Background(), agentInput(testAgent(), testEvent()))
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if len(res.Decision.Quotas) != 1 {
		t.Fatalf("quotas = %+v", res.Decision.Quotas)
	}
	return res.Decision.Quotas[0].Limit
}

const brokenRego = "package agentgate.admission\n\ndecision := {\n"

const failingTest = `package agentgate.admission_test

import data.agentgate.admission

test_new_coding_agents_get_1000_builds if {
	d := admission.decision with input as {"event": {"kind": "build"}, "agent": {"type": "coding", "tier": "new", "state": "active"}}
	d.quotas[0].limit == 1000
}
`

func TestReload(t *testing.T) {
	ctx := context.Background()
	dir := copyBuiltin(t)
	var log reloadLog
	e, err := LoadDir(ctx, dir, Options{OnReload: log.record})
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	fsys := os.DirFS(dir)
	source := "dir:" + dir
	rev0 := e.Revision()
	if s := e.Status(); !s.Ready || s.Source != source || s.LastError != "" {
		t.Fatalf("status after LoadDir = %+v", s)
	}
	if len(log.all()) != 0 {
		t.Errorf("OnReload called for the initial load: %+v", log.all())
	}

	// Reloading unchanged content is a no-op.
	if err := e.Reload(ctx, fsys, source); err != nil {
		t.Fatalf("Reload unchanged: %v", err)
	}
	if len(log.all()) != 0 {
		t.Errorf("OnReload called for an unchanged set: %+v", log.all())
	}

	// A good change is served.
	setBuildLimit(t, dir, "20", "30")
	if err := e.Reload(ctx, fsys, source); err != nil {
		t.Fatalf("Reload good set: %v", err)
	}
	rev1 := e.Revision()
	if rev1 == rev0 {
		t.Fatal("revision did not change")
	}
	if got := buildLimit(t, e); got != 30 {
		t.Errorf("limit = %d, want 30", got)
	}
	evs := log.all()
	if len(evs) != 1 || evs[0].Err != nil || evs[0].Revision != rev1 || evs[0].Previous != rev0 || evs[0].Tests < 30 || evs[0].Source != source {
		t.Errorf("reload events = %+v", evs)
	}

	// Broken Rego is rejected and the last good set keeps serving.
	good := readFile(t, filepath.Join(dir, "admission.rego"))
	writeFile(t, filepath.Join(dir, "admission.rego"), brokenRego)
	err = e.Reload(ctx, fsys, source)
	if err == nil {
		t.Fatal("Reload accepted broken Rego")
	}
	if e.Revision() != rev1 || buildLimit(t, e) != 30 {
		t.Errorf("after a rejected reload: revision %s, want %s", e.Revision(), rev1)
	}
	s := e.Status()
	if !s.Ready || s.LastError == "" || !strings.Contains(s.LastError, "admission.rego") || !strings.Contains(s.LastError, rev1) {
		t.Errorf("status after broken Rego = %+v", s)
	}
	evs = log.all()
	if last := evs[len(evs)-1]; last.Err == nil || last.Previous != rev1 || last.Revision == "" {
		t.Errorf("reload event for broken Rego = %+v", last)
	}

	// A set whose own test fails is rejected.
	writeFile(t, filepath.Join(dir, "admission.rego"), good)
	writeFile(t, filepath.Join(dir, "extra_test.rego"), failingTest)
	setBuildLimit(t, dir, "30", "40")
	err = e.Reload(ctx, fsys, source)
	if err == nil || !strings.Contains(err.Error(), "test_new_coding_agents_get_1000_builds") {
		t.Fatalf("Reload with a failing test: err = %v", err)
	}
	if e.Revision() != rev1 || buildLimit(t, e) != 30 {
		t.Errorf("a set failing its tests was served")
	}
	if s := e.Status(); !strings.Contains(s.LastError, "1 of") {
		t.Errorf("status after failing test = %+v", s)
	}

	// Fixed again: accepted, and the error is cleared.
	if err := os.Remove(filepath.Join(dir, "extra_test.rego")); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(ctx, fsys, source); err != nil {
		t.Fatalf("Reload fixed set: %v", err)
	}
	if e.Revision() == rev1 || buildLimit(t, e) != 40 {
		t.Errorf("fixed set not served: revision %s", e.Revision())
	}
	if s := e.Status(); s.LastError != "" || !s.Ready {
		t.Errorf("status after fix = %+v", s)
	}
}

func TestReloadRejectsBrokenData(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, file, content, want string
	}{
		{"invalid YAML", "data/extra.yaml", "a: [1,\n", "data/extra.yaml"},
		{"data that is not an object", "data/extra.json", `[1, 2]`, "must be an object"},
		{"a value set by two files", "data/extra.yaml", "settings:\n  approvals:\n    ttl: 1h\n", "data/settings.yaml"},
		{"data over the policy package", "data/extra.yaml", "admission:\n  decision: {}\n", "conflict"},
		{"an invalid rule mode", "data/settings.yaml", "", "test_data_rule_modes_are_valid"},
		{"a missing data document", "data/tiers.yaml", "-", "test_data_documents_are_present"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBuiltin(t)
			e, err := LoadDir(ctx, dir, Options{SkipTests: true})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, tt.file)
			switch tt.content {
			case "":
				writeFile(t, p, strings.Replace(readFile(t, p), "capability: warn", "capability: warning", 1))
			case "-":
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			default:
				writeFile(t, p, tt.content)
			}
			rev := e.Revision()
			err = e.Reload(ctx, os.DirFS(dir), "dir:"+dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Reload: err = %v, want one containing %q", err, tt.want)
			}
			if e.Revision() != rev {
				t.Error("rejected set is served")
			}
		})
	}
}

func TestLoadDirErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := LoadDir(ctx, filepath.Join(t.TempDir(), "missing"), Options{}); err == nil {
		t.Error("LoadDir of a missing directory succeeded")
	}
	dir := copyBuiltin(t)
	writeFile(t, filepath.Join(dir, "admission.rego"), brokenRego)
	if _, err := LoadDir(ctx, dir, Options{}); err == nil {
		t.Error("LoadDir of a broken directory succeeded")
	}
	dir = copyBuiltin(t)
	writeFile(t, filepath.Join(dir, "extra_test.rego"), failingTest)
	// SkipTests does not apply to LoadDir.
	if _, err := LoadDir(ctx, dir, Options{SkipTests: true}); err == nil {
		t.Error("LoadDir of a set failing its tests succeeded")
	}
	empty := t.TempDir()
	if _, err := LoadDir(ctx, empty, Options{}); err == nil || !strings.Contains(err.Error(), "no Rego modules") {
		t.Errorf("LoadDir of an empty directory: err = %v", err)
	}
}
