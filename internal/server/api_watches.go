package server

import (
	"context"

	"github.com/agentgate/agentgate/internal/rollback"
)

// nameAgents fills in the agents' names, looking each agent up once.
func (s *Server) nameAgents(ctx context.Context, items []rollback.WatchStatus) {
	names := map[string]string{}
	for i := range items {
		id := items[i].AgentID
		if id == "" {
			continue
		}
		name, ok := names[id]
		if !ok {
			if ag, err := s.store.GetAgent(ctx, id); err == nil {
				name = ag.Name
			}
			names[id] = name
		}
		items[i].Agent = name
	}
}
