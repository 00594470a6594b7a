package registry_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/principal"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

func newRegistry(t testing.TB) (*registry.Service, *sqlstore.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "registry.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return registry.New(registry.Options{Store: st}), st
}

func provision(t testing.TB, r *registry.Service, name string, principals ...string) agents.Agent {
	t.Helper()
	a, _, err := r.Provision(context.Background(), "test", registry.Spec{Name: name, Type: agents.TypeCoding, Owner: "alice", Principals: principals})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestProvisionCanonicalizesPrincipals(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "mixed case github", in: []string{"GitHub:Coder-Bot[bot]"}, want: []string{"github:coder-bot[bot]"}},
		{name: "k8s keeps case", in: []string{"K8s:system:serviceaccount:ci:Agent"}, want: []string{"k8s:system:serviceaccount:ci:Agent"}},
		{name: "zero-width space refused", in: []string{"github:coder-bot[bot]\u200b"}, wantErr: "principals[0]"},
		{name: "trailing space refused", in: []string{"github:ok", "gitlab:bot "}, wantErr: "principals[1]"},
		{name: "two spellings of one principal", in: []string{"github:bot", "GITHUB:BOT"}, wantErr: "are the same principal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRegistry(t)
			a, _, err := r.Provision(context.Background(), "test", registry.Spec{Name: "a1", Type: agents.TypeCoding, Owner: "alice", Principals: tc.in})
			if tc.wantErr != "" {
				if apperr.KindOf(err) != apperr.KindInvalid || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want invalid input containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(a.Principals, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("principals = %q, %v; want %q", a.Principals, err, tc.want)
			}
		})
	}
}

func TestUpdateCanonicalizesPrincipals(t *testing.T) {
	r, _ := newRegistry(t)
	a := provision(t, r, "a1", "github:one")
	p := []string{"GitLab:Project_7_Bot_X"}
	got, err := r.Update(context.Background(), "test", a.ID, registry.Patch{Principals: &p})
	if err != nil || len(got.Principals) != 1 || got.Principals[0] != "gitlab:project_7_bot_x" {
		t.Fatalf("update = %q, %v", got.Principals, err)
	}
	bad := []string{"gitlab:x\x00"}
	if _, err := r.Update(context.Background(), "test", a.ID, registry.Patch{Principals: &bad}); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("update with a NUL: %v", err)
	}
}

// FuzzIdentifyPrincipal is the property identification rests on: any
// string that canonicalizes to a registered principal resolves to that
// agent; any other string never resolves to it, and a string that is no
// principal is refused, never taken for a human.
func FuzzIdentifyPrincipal(f *testing.F) {
	for _, s := range []string{"github:coder-bot[bot]", "GitHub:Coder-Bot[bot]", "github:coder-bot[bot] ", " github:coder-bot[bot]",
		"github:coder-bot[bot]\u200b", "github:coder-bot[bot]\x00", "\ufeffgithub:coder-bot[bot]", "github:coder-bot[bot]\u00a0",
		"github:coder-bot", "github:c\u043eder-bot[bot]", "k8s:system:serviceaccount:ci:agent", "K8S:system:serviceaccount:ci:agent",
		"k8s:system:serviceaccount:CI:agent", "argo:jos\u00e9", "argo:jose\u0301"} {
		f.Add(s)
	}
	r, _ := newRegistry(f)
	registered := map[string]string{}
	for i, p := range []string{"github:coder-bot[bot]", "k8s:system:serviceaccount:ci:agent", "argo:jos\u00e9"} {
		a := provision(f, r, "agent-"+string(rune('a'+i)), p)
		registered[p] = a.ID
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev := event.Event{Provider: "generic", Kind: event.KindBuild, Principal: s}
		id, err := r.Identify(context.Background(), &ev)
		canonical, cerr := principal.Canonical(s)
		if cerr != nil {
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("Identify(%q) = %+v, %v; want it refused as invalid", s, id, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Identify(%q): %v", s, err)
		}
		want, isAgent := registered[canonical]
		switch {
		case isAgent && (id.Agent == nil || id.Agent.ID != want):
			t.Fatalf("Identify(%q) (canonical %q) = %+v, want agent %s", s, canonical, id, want)
		case !isAgent && id.Agent != nil:
			t.Fatalf("Identify(%q) (canonical %q) resolved to agent %s", s, canonical, id.Agent.Name)
		}
	})
}

func TestCanonicalizeStored(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	legacy := func(id, name string, principals ...string) agents.Agent {
		return agents.Agent{ID: id, Name: name, Type: agents.TypeCoding, Owner: "alice", Tier: agents.TierNew, State: agents.StateActive,
			Capabilities: []string{}, Environments: []string{}, Namespaces: []string{}, Principals: principals, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	t.Run("fixes case and unbinds invalid", func(t *testing.T) {
		r, st := newRegistry(t)
		if err := st.CreateAgent(ctx, legacy("id-1", "legacy", "GitHub:Coder-Bot[bot]", "github:coder-bot[bot]\u200b", "k8s:system:serviceaccount:ci:Agent")); err != nil {
			t.Fatal(err)
		}
		n, err := r.CanonicalizeStored(ctx)
		if err != nil || n != 1 {
			t.Fatalf("CanonicalizeStored = %d, %v", n, err)
		}
		a, err := st.GetAgent(ctx, "id-1")
		if err != nil || strings.Join(a.Principals, ",") != "github:coder-bot[bot],k8s:system:serviceaccount:ci:Agent" {
			t.Fatalf("principals = %q, %v", a.Principals, err)
		}
		if n, err := r.CanonicalizeStored(ctx); err != nil || n != 0 {
			t.Fatalf("second run = %d, %v; want nothing to do", n, err)
		}
	})
	t.Run("two agents with one principal is an error", func(t *testing.T) {
		r, st := newRegistry(t)
		for _, a := range []agents.Agent{legacy("id-1", "first", "github:Bot"), legacy("id-2", "second", "github:bot")} {
			if err := st.CreateAgent(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		_, err := r.CanonicalizeStored(ctx)
		if err == nil || !strings.Contains(err.Error(), `"first" and "second"`) {
			t.Fatalf("err = %v, want both agents named", err)
		}
	})
}
