package policy

import (
	"testing"
	"testing/fstest"

	"github.com/agentgate/agentgate/policies"
)

func TestReadBundle(t *testing.T) {
	tests := []struct {
		name        string
		fsys        fstest.MapFS
		wantModules []string
		wantErr     bool
	}{
		{name: "modules without tests, data merged",
			fsys: fstest.MapFS{
				"a.rego":      {Data: []byte("package agentgate.admission\ndecision := {\"allow\": true}\n")},
				"a_test.rego": {Data: []byte("package agentgate.admission_test\ntest_x if true\n")},
				"data/x.yaml": {Data: []byte("tiers:\n  a: 1\n")},
				"data/y.json": {Data: []byte(`{"tiers": {"b": 2}}`)},
			},
			wantModules: []string{"a.rego"}},
		{name: "conflicting data is refused",
			fsys: fstest.MapFS{
				"a.rego":      {Data: []byte("package agentgate.admission\ndecision := {}\n")},
				"data/x.yaml": {Data: []byte("k: 1\n")},
				"data/y.yaml": {Data: []byte("k: 2\n")},
			}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadBundle(tc.fsys)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Modules) != len(tc.wantModules) {
				t.Fatalf("modules = %v, want %v", b.Modules, tc.wantModules)
			}
			for _, m := range tc.wantModules {
				if _, ok := b.Modules[m]; !ok {
					t.Fatalf("module %s missing", m)
				}
			}
			tiers, _ := b.Data["tiers"].(map[string]any)
			if len(tiers) != 2 {
				t.Fatalf("data = %v, want tiers a and b merged", b.Data)
			}
		})
	}
	// The built-in set: its revision is the engine's.
	b, err := ReadBundle(policies.FS())
	if err != nil {
		t.Fatal(err)
	}
	rev, err := setRevision(policies.FS())
	if err != nil || b.Revision != rev || len(b.Modules) == 0 || b.Data["tiers"] == nil {
		t.Fatalf("built-in bundle: revision %s (want %s, %v), %d modules, data keys %d", b.Revision, rev, err, len(b.Modules), len(b.Data))
	}
}
