package policy

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/util"
)

const minimalPolicy = `package agentgate.admission

decision := {"allow": true, "deny": [], "quotas": [], "require_approval": null, "enforcement": "enforce"}
`

func TestLoadSetLayout(t *testing.T) {
	fsys := fstest.MapFS{
		"admission.rego":             {Data: []byte(minimalPolicy)},
		"lib/helpers.rego":           {Data: []byte("package agentgate.lib\n\nx := 1\n")},
		"admission_test.rego":        {Data: []byte("package agentgate.admission_test\n\ntest_ok if true\n")},
		"data/a.yaml":                {Data: []byte("settings:\n  approvals:\n    ttl: 4h\n")},
		"data/b.json":                {Data: []byte(`{"settings": {"enforcement": {"mode": "warn"}}, "tiers": {"limits": {}}}`)},
		"data/nested/c.yml":          {Data: []byte("extra:\n  - 1\n  - two\n")},
		"data/empty.yaml":            {Data: []byte("")},
		"data/notes.txt":             {Data: []byte("not data")},
		"README.md":                  {Data: []byte("# not policy")},
		"settings.yaml":              {Data: []byte("ignored: outside data/")},
		".hidden/evil.rego":          {Data: []byte("this is not Rego")},
		"..data/admission.rego":      {Data: []byte("this is not Rego either")},
		"data/..2025_01_01/x.yaml":   {Data: []byte("hidden: true")},
		"data/.secret.yaml":          {Data: []byte("hidden: true")},
		"lib/nested/deeper/z.rego":   {Data: []byte("package agentgate.z\n\nz := 1\n")},
		"lib/nested/deeper/z_test.x": {Data: []byte("ignored")},
	}
	set, err := loadSet(fsys)
	if err != nil {
		t.Fatalf("loadSet: %v", err)
	}
	var modules, tests []string
	for name := range set.modules {
		modules = append(modules, name)
	}
	for name := range set.tests {
		tests = append(tests, name)
	}
	if want := []string{"admission.rego", "lib/helpers.rego", "lib/nested/deeper/z.rego"}; !sameSet(modules, want) {
		t.Errorf("modules = %v, want %v", modules, want)
	}
	if want := []string{"admission_test.rego"}; !sameSet(tests, want) {
		t.Errorf("tests = %v, want %v", tests, want)
	}
	var want map[string]any
	if err := util.UnmarshalJSON([]byte(`{
		"settings": {"approvals": {"ttl": "4h"}, "enforcement": {"mode": "warn"}},
		"tiers": {"limits": {}},
		"extra": [1, "two"]
	}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(set.data, want) {
		t.Errorf("data = %#v\nwant %#v", set.data, want)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestLoadSetErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "no modules",
			files: map[string]string{"data/a.yaml": "a: 1"},
			want:  []string{"no Rego modules"},
		},
		{
			name:  "only tests",
			files: map[string]string{"a_test.rego": "package x_test\n\ntest_a if true\n"},
			want:  []string{"no Rego modules"},
		},
		{
			name:  "parse error",
			files: map[string]string{"a.rego": "package a\n\nx := {\n"},
			want:  []string{"a.rego"},
		},
		{
			name: "conflicting values name both files",
			files: map[string]string{
				"a.rego":      minimalPolicy,
				"data/a.yaml": "settings:\n  approvals:\n    ttl: 4h\n",
				"data/b.yaml": "settings:\n  approvals:\n    ttl: 2h\n",
			},
			want: []string{"data/a.yaml", "data/b.yaml", "data.agentgate.settings.approvals.ttl"},
		},
		{
			name: "an object and a value collide",
			files: map[string]string{
				"a.rego":      minimalPolicy,
				"data/a.yaml": "tiers: {limits: {}}\n",
				"data/b.json": `{"tiers": 3}`,
			},
			want: []string{"data.agentgate.tiers"},
		},
		{
			name:  "data that is a list",
			files: map[string]string{"a.rego": minimalPolicy, "data/a.yaml": "- 1\n- 2\n"},
			want:  []string{"data/a.yaml", "must be an object"},
		},
		{
			name:  "non-string keys",
			files: map[string]string{"a.rego": minimalPolicy, "data/a.yaml": "1: one\n"},
			want:  []string{"data/a.yaml"},
		},
		{
			name:  "duplicate YAML keys",
			files: map[string]string{"a.rego": minimalPolicy, "data/a.yaml": "a: 1\na: 2\n"},
			want:  []string{"data/a.yaml"},
		},
		{
			name:  "invalid JSON",
			files: map[string]string{"a.rego": minimalPolicy, "data/a.json": "{"},
			want:  []string{"data/a.json"},
		},
		{
			name: "several errors are all reported",
			files: map[string]string{
				"a.rego":      "package a\n\nx := {\n",
				"data/b.json": "[",
			},
			want: []string{"a.rego", "data/b.json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, content := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(content)}
			}
			_, err := loadSet(fsys)
			if err == nil {
				t.Fatal("loadSet succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRevision(t *testing.T) {
	base := fstest.MapFS{
		"a.rego":      {Data: []byte(minimalPolicy)},
		"data/a.yaml": {Data: []byte("a: 1\n")},
	}
	rev := func(fsys fstest.MapFS) string {
		t.Helper()
		r, err := setRevision(fsys)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r0 := rev(base)
	if !strings.HasPrefix(r0, "sha256:") || len(r0) != 7+16 {
		t.Fatalf("revision %q", r0)
	}
	if rev(base) != r0 {
		t.Error("revision is not deterministic")
	}
	withReadme := fstest.MapFS{"README.md": {Data: []byte("x")}}
	for k, v := range base {
		withReadme[k] = v
	}
	if rev(withReadme) != r0 {
		t.Error("a file the set does not read changed the revision")
	}
	changes := map[string]fstest.MapFS{
		"data changed": {"a.rego": base["a.rego"], "data/a.yaml": {Data: []byte("a: 2\n")}},
		"renamed":      {"b.rego": base["a.rego"], "data/a.yaml": base["data/a.yaml"]},
		"test added":   {"a.rego": base["a.rego"], "data/a.yaml": base["data/a.yaml"], "a_test.rego": {Data: []byte("package t\n")}},
		// Names and contents are length-prefixed, so moving bytes between
		// them changes the hash.
		"bytes moved": {"a.rego": base["a.rego"], "data/a.yaml": {Data: []byte("a: 1\n")}, "data/x.json": {Data: []byte("{}")}},
	}
	for name, fsys := range changes {
		if rev(fsys) == r0 {
			t.Errorf("%s: revision unchanged", name)
		}
	}
	set, err := loadSet(base)
	if err != nil {
		t.Fatal(err)
	}
	if set.revision != r0 {
		t.Errorf("loaded revision %s, setRevision %s", set.revision, r0)
	}
}
