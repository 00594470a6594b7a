package policy

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/policies"
)

const testNow = "2025-06-01T12:00:00Z"

// builtinEngine returns an engine serving the built-in policies.
func builtinEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := New(context.Background(), Options{FS: policies.FS(), Source: "embedded", SkipTests: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// engineWith returns an engine serving the built-in policies with files
// replaced or added.
func engineWith(t testing.TB, files map[string]string) *Engine {
	t.Helper()
	e, err := New(context.Background(), Options{FS: overlay(t, policies.FS(), files), Source: "test", SkipTests: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// overlay copies fsys into a MapFS and replaces or adds files ("" removes).
func overlay(t testing.TB, fsys fs.FS, files map[string]string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if content == "" {
			delete(m, name)
			continue
		}
		m[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return m
}

// builtinFile returns a file of the built-in set with replacements applied
// (old, new pairs); it fails when an old string is missing.
func builtinFile(t testing.TB, name string, replacements ...string) string {
	t.Helper()
	b, err := fs.ReadFile(policies.FS(), name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replacements); i += 2 {
		if !strings.Contains(s, replacements[i]) {
			t.Fatalf("%s does not contain %q", name, replacements[i])
		}
		s = strings.Replace(s, replacements[i], replacements[i+1], 1)
	}
	return s
}

// testAgent is a new coding agent; mods adjust it.
func testAgent(mods ...func(*agents.Agent)) *agents.Agent {
	a := &agents.Agent{
		ID:           "ag_fixer",
		Name:         "fixer",
		Type:         agents.TypeCoding,
		Owner:        "team-web",
		Capabilities: []string{"build", "workflow", "deploy"},
		Tier:         agents.TierNew,
		State:        agents.StateActive,
		Environments: []string{"staging", "preview-*", "pr-*", "review/*"},
		Namespaces:   []string{"web-*"},
		Principals:   []string{"github:fixer[bot]"},
		// Its Argo workflows may run as the default service account.
		Labels:    map[string]string{"argo.service_accounts": "default"},
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Version:   1,
	}
	for _, m := range mods {
		m(a)
	}
	return a
}

// deployer is a deployment agent scoped to staging and production.
func deployer(tier agents.Tier) *agents.Agent {
	return testAgent(func(a *agents.Agent) {
		a.ID, a.Name, a.Type, a.Tier = "ag_shipit", "shipit", agents.TypeDeployment, tier
		a.Capabilities = []string{"deploy"}
		a.Environments = []string{"staging", "production", "prod-*"}
		a.Namespaces = []string{"*"}
	})
}

// testEvent is a GitHub build of acme/api; mods adjust it.
func testEvent(mods ...func(*event.Event)) event.Event {
	e := event.Event{
		Provider:  "github",
		Kind:      event.KindBuild,
		Action:    "requested",
		Repo:      "acme/api",
		Ref:       "refs/heads/main",
		SHA:       "0123456789abcdef0123456789abcdef01234567",
		Principal: "github:fixer[bot]",
		Machine:   true,
		Handles:   map[string]string{"run_id": "42"},
	}
	for _, m := range mods {
		m(&e)
	}
	return e
}

func deployTo(env string) func(*event.Event) {
	return func(e *event.Event) { e.Kind, e.Environment = event.KindDeploy, env }
}

func agentInput(a *agents.Agent, e event.Event) Input {
	return Input{Event: e, Agent: a, Now: testNow, Usage: map[string]Usage{}}
}

func rate(name string, limit int64, window time.Duration) QuotaSpec {
	return QuotaSpec{Name: name, Kind: QuotaRate, Limit: limit, Window: Duration(window), Cost: 1}
}

func lease(limit int64, key string) QuotaSpec {
	return QuotaSpec{Name: "concurrent_environments", Kind: QuotaConcurrency, Limit: limit, Key: key, TTL: Duration(24 * time.Hour)}
}

func ruleIDs(rs []Reason) []string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.Rule+"/"+string(r.Enforcement))
	}
	slices.Sort(ids)
	return ids
}

func sortedQuotas(qs []QuotaSpec) []QuotaSpec {
	out := slices.Clone(qs)
	slices.SortFunc(out, func(a, b QuotaSpec) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// withoutRegoTests returns overlay replacements that remove the built-in
// set's Rego tests.
func withoutRegoTests(t testing.TB) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(policies.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "_test.rego") {
			files[p] = ""
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
