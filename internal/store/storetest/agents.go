package storetest

import (
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
)

func testLifecycle(t *testing.T, s suite) {
	st := s.open(t)
	if b := st.Backend(); b != "sqlite" && b != "postgres" {
		t.Fatalf("Backend() = %q, want sqlite or postgres", b)
	}
	must(t, st.Ping(t.Context()))
}

func testAgents(t *testing.T, s suite) {
	t.Run("create and get round-trip every field", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		a := newAgent("builder", "github:builder[bot]", "k8s:system:serviceaccount:ci:builder")
		a.Version = 7 // ignored: a new agent is version 1
		must(t, st.CreateAgent(ctx, a))
		a.Version = 1
		got, err := st.GetAgent(ctx, a.ID)
		must(t, err)
		equal(t, "GetAgent", got, a)
		got, err = st.GetAgentByName(ctx, a.Name)
		must(t, err)
		equal(t, "GetAgentByName", got, a)
		for _, p := range a.Principals {
			got, err = st.AgentByPrincipal(ctx, p)
			must(t, err)
			equal(t, "AgentByPrincipal "+p, got, a)
		}
	})

	t.Run("optional fields stay empty", func(t *testing.T) {
		st := s.open(t)
		a := newAgent("bare")
		a.ExpiresAt, a.Labels, a.Capabilities, a.Namespaces = nil, nil, nil, nil
		createAgent(t, st, a)
		got, err := st.GetAgent(t.Context(), a.ID)
		must(t, err)
		equal(t, "GetAgent", got, a)
	})

	t.Run("not found", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		createAgent(t, st, newAgent("present", "github:present"))
		for name, lookup := range map[string]func() (agents.Agent, error){
			"GetAgent":         func() (agents.Agent, error) { return st.GetAgent(ctx, "nope") },
			"GetAgentByName":   func() (agents.Agent, error) { return st.GetAgentByName(ctx, "nope") },
			"AgentByPrincipal": func() (agents.Agent, error) { return st.AgentByPrincipal(ctx, "github:nope") },
		} {
			_, err := lookup()
			if err == nil {
				t.Fatalf("%s: found a missing agent", name)
			}
			wantErr(t, err, store.ErrNotFound)
		}
	})

	t.Run("create conflicts write nothing", func(t *testing.T) {
		tests := []struct {
			name   string
			second agents.Agent
		}{
			{name: "same id", second: func() agents.Agent { a := newAgent("other", "github:other"); a.ID = "id-first"; return a }()},
			{name: "same name", second: func() agents.Agent { a := newAgent("first", "github:other"); a.ID = "id-other"; return a }()},
			{name: "principal bound to another agent", second: newAgent("other", "github:other", "github:first")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				st := s.open(t)
				ctx := t.Context()
				first := createAgent(t, st, newAgent("first", "github:first"))
				wantErr(t, st.CreateAgent(ctx, tc.second), store.ErrConflict)
				got, err := st.AgentByPrincipal(ctx, "github:first")
				must(t, err)
				equal(t, "first agent", got, first)
				if tc.second.ID != first.ID {
					_, err := st.GetAgent(ctx, tc.second.ID)
					wantErr(t, err, store.ErrNotFound)
				}
				// The second agent's principals were not bound, even those
				// inserted before the conflicting one.
				_, err = st.AgentByPrincipal(ctx, "github:other")
				wantErr(t, err, store.ErrNotFound)
				list, err := st.ListAgents(ctx, store.AgentFilter{})
				must(t, err)
				equal(t, "agents", list, []agents.Agent{first})
			})
		}
	})

	t.Run("list filters and orders by name", func(t *testing.T) {
		st := s.open(t)
		mk := func(name, owner, typ string, state agents.State, tier agents.Tier) {
			a := newAgent(name)
			a.Owner, a.Type, a.State, a.Tier = owner, typ, state, tier
			createAgent(t, st, a)
		}
		mk("zeta", "alice", agents.TypeCoding, agents.StateActive, agents.TierNew)
		mk("alpha", "bob", agents.TypeDeployment, agents.StateSuspended, agents.TierTrusted)
		mk("mid", "alice", agents.TypeDeployment, agents.StateActive, agents.TierTrusted)
		tests := []struct {
			name   string
			filter store.AgentFilter
			want   []string
		}{
			{name: "all", want: []string{"alpha", "mid", "zeta"}},
			{name: "owner", filter: store.AgentFilter{Owner: "alice"}, want: []string{"mid", "zeta"}},
			{name: "type", filter: store.AgentFilter{Type: agents.TypeDeployment}, want: []string{"alpha", "mid"}},
			{name: "state", filter: store.AgentFilter{State: agents.StateSuspended}, want: []string{"alpha"}},
			{name: "tier", filter: store.AgentFilter{Tier: agents.TierTrusted}, want: []string{"alpha", "mid"}},
			{name: "combined", filter: store.AgentFilter{Owner: "alice", Tier: agents.TierTrusted, State: agents.StateActive}, want: []string{"mid"}},
			{name: "no match", filter: store.AgentFilter{Owner: "carol"}, want: nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				list, err := st.ListAgents(t.Context(), tc.filter)
				must(t, err)
				var names []string
				for _, a := range list {
					names = append(names, a.Name)
				}
				equal(t, "names", names, tc.want)
			})
		}
	})

	t.Run("update", testUpdateAgent(s))
}

func testUpdateAgent(s suite) func(t *testing.T) {
	return func(t *testing.T) {
		t.Run("replaces fields and rebinds principals", func(t *testing.T) {
			st := s.open(t)
			ctx := t.Context()
			a := createAgent(t, st, newAgent("builder", "github:old", "github:kept"))
			a.Tier, a.State, a.Owner = agents.TierTrusted, agents.StateSuspended, "platform"
			a.Principals = []string{"github:kept", "gitlab:new"}
			a.Labels = map[string]string{"x": "y"}
			a.UpdatedAt = a.UpdatedAt.Add(time.Hour)
			must(t, st.UpdateAgent(ctx, a))
			a.Version = 2
			got, err := st.GetAgent(ctx, a.ID)
			must(t, err)
			equal(t, "updated agent", got, a)
			_, err = st.AgentByPrincipal(ctx, "github:old")
			wantErr(t, err, store.ErrNotFound)
			for _, p := range a.Principals {
				got, err := st.AgentByPrincipal(ctx, p)
				must(t, err)
				equal(t, "agent of "+p, got.ID, a.ID)
			}
		})

		tests := []struct {
			name   string
			change func(a *agents.Agent)
			want   error
		}{
			{name: "stale version", change: func(a *agents.Agent) { a.Version = 0 }, want: store.ErrConflict},
			{name: "future version", change: func(a *agents.Agent) { a.Version = 9 }, want: store.ErrConflict},
			{name: "missing agent", change: func(a *agents.Agent) { a.ID = "id-missing" }, want: store.ErrNotFound},
			{name: "name taken", change: func(a *agents.Agent) { a.Name = "taken" }, want: store.ErrConflict},
			{name: "principal of another agent", change: func(a *agents.Agent) { a.Principals = []string{"github:mine", "github:taken"} }, want: store.ErrConflict},
		}
		for _, tc := range tests {
			t.Run(tc.name+" changes nothing", func(t *testing.T) {
				st := s.open(t)
				ctx := t.Context()
				createAgent(t, st, newAgent("taken", "github:taken"))
				orig := createAgent(t, st, newAgent("mine", "github:mine"))
				a := orig
				a.Principals = []string{"github:mine"}
				a.Tier = agents.TierTrusted
				tc.change(&a)
				wantErr(t, st.UpdateAgent(ctx, a), tc.want)
				got, err := st.GetAgent(ctx, orig.ID)
				must(t, err)
				equal(t, "stored agent", got, orig)
				got, err = st.AgentByPrincipal(ctx, "github:mine")
				must(t, err)
				equal(t, "agent of github:mine", got.ID, orig.ID)
				got, err = st.AgentByPrincipal(ctx, "github:taken")
				must(t, err)
				equal(t, "agent of github:taken", got.Name, "taken")
			})
		}

		t.Run("successive updates advance the version", func(t *testing.T) {
			st := s.open(t)
			ctx := t.Context()
			a := createAgent(t, st, newAgent("stepper"))
			for v := int64(1); v <= 3; v++ {
				a.Version = v
				must(t, st.UpdateAgent(ctx, a))
			}
			got, err := st.GetAgent(ctx, a.ID)
			must(t, err)
			equal(t, "version", got.Version, int64(4))
		})
	}
}
