package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/agentgate/agentgate/internal/client"
)

// maxNameLookups bounds the agent lookups one table makes to show names;
// further agents are shown by id.
const maxNameLookups = 50

// agentNames resolves agent ids to names for tables, one GET per distinct
// agent, remembering the answers. An id it cannot resolve (an agent
// deleted from the store, a lookup over the bound, an error) is shown as
// it is: tables are for people, and -o json always has the ids.
type agentNames struct {
	api     *client.Client
	names   map[string]string
	lookups int
}

func newAgentNames(api *client.Client) *agentNames {
	return &agentNames{api: api, names: map[string]string{}}
}

// name returns the name of the agent with id, or id.
func (n *agentNames) name(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	if name, ok := n.names[id]; ok {
		return name
	}
	name := id
	if n.lookups < maxNameLookups {
		n.lookups++
		if a, err := n.api.GetAgent(ctx, id); err == nil && a.ID == id {
			name = a.Name
		} else if ae := (*client.APIError)(nil); err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusNotFound) && n.lookups == 1 {
			// The first lookup failing for another reason (a token that may
			// not read agents) stops the others.
			n.lookups = maxNameLookups
		}
	}
	n.names[id] = name
	return name
}

// agentName returns a function that names agents by id for one table.
func (s *session) agentName(ctx context.Context) func(id string) string {
	n := newAgentNames(s.api)
	return func(id string) string { return n.name(ctx, id) }
}

// agentWithID shows "name (id)" for a detail view, or the id alone when
// the name is not known.
func agentWithID(name, id string) string {
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}
