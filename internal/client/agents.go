package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

// CreatedAgent is a newly provisioned agent with its API token. The token
// is shown only in this answer; the server keeps just its hash.
type CreatedAgent struct {
	Agent agents.Agent `json:"agent"`
	Token string       `json:"token"`
}

// reasonRequest is the body of the lifecycle operations.
type reasonRequest struct {
	Reason string `json:"reason,omitempty"`
}

// tierRequest is the body of promote and demote.
type tierRequest struct {
	Reason string      `json:"reason"`
	To     agents.Tier `json:"to,omitempty"`
}

// ListAgents returns the agents matching f (empty fields match everything),
// ordered by name.
func (c *Client) ListAgents(ctx context.Context, f store.AgentFilter) ([]agents.Agent, error) {
	q := url.Values{}
	setIf(q, "owner", f.Owner)
	setIf(q, "type", f.Type)
	setIf(q, "state", string(f.State))
	setIf(q, "tier", string(f.Tier))
	return list[agents.Agent](ctx, c, "/agents", q)
}

// GetAgent returns one agent by id or name.
func (c *Client) GetAgent(ctx context.Context, idOrName string) (agents.Agent, error) {
	var a agents.Agent
	err := c.agentCall(ctx, http.MethodGet, idOrName, "", nil, &a)
	return a, err
}

// CreateAgent provisions an agent and returns it with its one-time token.
func (c *Client) CreateAgent(ctx context.Context, spec registry.Spec) (CreatedAgent, error) {
	var out CreatedAgent
	err := c.do(ctx, http.MethodPost, "/agents", nil, spec, &out)
	return out, err
}

// ApplyAgents brings the registry to the declared agents in one
// transaction, or with DryRun reports what that would change.
func (c *Client) ApplyAgents(ctx context.Context, r registry.ApplyRequest) (registry.ApplyResult, error) {
	var out registry.ApplyResult
	err := c.do(ctx, http.MethodPost, "/agents/apply", nil, r, &out)
	return out, err
}

// UpdateAgent applies a partial update. Only the fields set in p are sent:
// nil pointers, a false ClearExpiry and a zero Version are left out.
func (c *Client) UpdateAgent(ctx context.Context, idOrName string, p registry.Patch) (agents.Agent, error) {
	body, err := compactPatch(p)
	if err != nil {
		return agents.Agent{}, err
	}
	var a agents.Agent
	err = c.agentCall(ctx, http.MethodPatch, idOrName, "", body, &a)
	return a, err
}

// compactPatch encodes p without the members that would not change anything.
func compactPatch(p registry.Patch) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("client: encode patch: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("client: encode patch: %w", err)
	}
	for k, v := range m {
		if s := string(v); s == "null" || (k == "clear_expiry" && s == "false") || (k == "version" && s == "0") {
			delete(m, k)
		}
	}
	return m, nil
}

// Promote moves an agent up one tier, or to the tier to (which must be
// higher) when it is not empty. A reason is required.
func (c *Client) Promote(ctx context.Context, idOrName string, to agents.Tier, reason string) (agents.Agent, error) {
	var a agents.Agent
	err := c.agentCall(ctx, http.MethodPost, idOrName, "/promote", tierRequest{Reason: reason, To: to}, &a)
	return a, err
}

// Demote moves an agent down one tier, or to the tier to (which must be
// lower) when it is not empty. A reason is required.
func (c *Client) Demote(ctx context.Context, idOrName string, to agents.Tier, reason string) (agents.Agent, error) {
	var a agents.Agent
	err := c.agentCall(ctx, http.MethodPost, idOrName, "/demote", tierRequest{Reason: reason, To: to}, &a)
	return a, err
}

// Suspend stops an active agent until it is resumed.
func (c *Client) Suspend(ctx context.Context, idOrName, reason string) (agents.Agent, error) {
	return c.lifecycle(ctx, idOrName, "/suspend", reason)
}

// Resume returns a suspended or killed agent to active (releasing a killed
// agent's kill switches).
func (c *Client) Resume(ctx context.Context, idOrName, reason string) (agents.Agent, error) {
	return c.lifecycle(ctx, idOrName, "/resume", reason)
}

// Decommission retires an agent for good.
func (c *Client) Decommission(ctx context.Context, idOrName, reason string) (agents.Agent, error) {
	return c.lifecycle(ctx, idOrName, "/decommission", reason)
}

// Kill engages an agent-scoped kill switch and returns the switch (not the
// agent). A reason is required.
func (c *Client) Kill(ctx context.Context, idOrName, reason string) (store.KillSwitch, error) {
	var ks store.KillSwitch
	err := c.agentCall(ctx, http.MethodPost, idOrName, "/kill", reasonRequest{Reason: reason}, &ks)
	return ks, err
}

// RotateToken issues a new token for the agent; the old one keeps working
// until Rotation.OldValidUntil.
func (c *Client) RotateToken(ctx context.Context, idOrName string) (registry.Rotation, error) {
	var rot registry.Rotation
	err := c.agentCall(ctx, http.MethodPost, idOrName, "/rotate", nil, &rot)
	return rot, err
}

func (c *Client) lifecycle(ctx context.Context, idOrName, op, reason string) (agents.Agent, error) {
	var a agents.Agent
	err := c.agentCall(ctx, http.MethodPost, idOrName, op, reasonRequest{Reason: reason}, &a)
	return a, err
}

// agentCall calls /agents/{id}{suffix}.
func (c *Client) agentCall(ctx context.Context, method, idOrName, suffix string, in, out any) error {
	id, err := escape("agent", idOrName)
	if err != nil {
		return err
	}
	return c.do(ctx, method, "/agents/"+id+suffix, nil, in, out)
}
