package registry

import (
	"context"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
)

// Store is the part of the store the agent registry keeps agents,
// tokens and kill switches in.
// store.Store implements it; tests may give less.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context, q store.Queries) error) error
	AgentByPrincipal(ctx context.Context, principal string) (agents.Agent, error)
	GetAgent(ctx context.Context, id string) (agents.Agent, error)
	GetAgentByName(ctx context.Context, name string) (agents.Agent, error)
	ListAgents(ctx context.Context, f store.AgentFilter) ([]agents.Agent, error)
	TokenByHash(ctx context.Context, hash string) (store.Token, error)
	GetKillSwitch(ctx context.Context, id string) (store.KillSwitch, error)
	ListKillSwitches(ctx context.Context, activeOnly bool) ([]store.KillSwitch, error)
}

var _ Store = store.Store(nil)
