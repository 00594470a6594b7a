package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
)

// CostReport is the cost ledger summed over a period.
type CostReport struct {
	By    store.CostGroup `json:"by"`
	From  time.Time       `json:"from"`
	To    time.Time       `json:"to"`
	Items []store.CostRow `json:"items"`
}

// Evaluation is the dry-run decision on one event.
type Evaluation struct {
	Event  event.Event `json:"event"`
	Result gate.Result `json:"result"`
}

// AgentStatus is what an agent token may read about its own agent.
type AgentStatus struct {
	Agent  agents.Agent       `json:"agent"`
	Quotas []store.QuotaUsage `json:"quotas"`
	// KillSwitch is the active switch that stops the agent, if any.
	KillSwitch *store.KillSwitch `json:"kill_switch,omitempty"`
}

// evaluateRequest is the body of /api/v1/evaluate.
type evaluateRequest struct {
	Event    *event.Event      `json:"event,omitempty"`
	Provider string            `json:"provider,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Payload  json.RawMessage   `json:"payload,omitempty"`
}

// ListApprovals returns the approvals matching f, newest first.
func (c *Client) ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	q := url.Values{}
	setIf(q, "state", string(f.State))
	setIf(q, "agent", f.AgentID)
	setIf(q, "owner", f.Owner)
	return list[store.Approval](ctx, c, "/approvals", q)
}

// GetApproval returns one approval.
func (c *Client) GetApproval(ctx context.Context, id string) (store.Approval, error) {
	var a store.Approval
	p, err := escape("approval", id)
	if err != nil {
		return a, err
	}
	err = c.do(ctx, http.MethodGet, "/approvals/"+p, nil, nil, &a)
	return a, err
}

// ResolveApproval approves or rejects a held change; a rejection needs a
// reason, which the CI system shows.
func (c *Client) ResolveApproval(ctx context.Context, id string, approve bool, reason string) (store.Approval, error) {
	var a store.Approval
	p, err := escape("approval", id)
	if err != nil {
		return a, err
	}
	verb := "/reject"
	if approve {
		verb = "/approve"
	}
	var body any
	if reason != "" {
		body = map[string]string{"reason": reason}
	}
	err = c.do(ctx, http.MethodPost, "/approvals/"+p+verb, nil, body, &a)
	return a, err
}

// Costs sums the cost ledger grouped by agent, owner or type (the server
// defaults to agent when by is empty) over [from, to); zero times leave
// the server's defaults (the last 30 days up to now).
func (c *Client) Costs(ctx context.Context, by store.CostGroup, from, to time.Time) (CostReport, error) {
	q := url.Values{}
	setIf(q, "by", string(by))
	setTime(q, "from", from)
	setTime(q, "to", to)
	var r CostReport
	if err := c.do(ctx, http.MethodGet, "/costs", q, nil, &r); err != nil {
		return CostReport{}, err
	}
	if r.Items == nil {
		r.Items = []store.CostRow{}
	}
	return r, nil
}

// Evaluate asks for the decision the gate would make on a normalized
// event, without charging quotas or enforcing anything.
func (c *Client) Evaluate(ctx context.Context, ev event.Event) ([]Evaluation, error) {
	return c.evaluate(ctx, evaluateRequest{Event: &ev})
}

// EvaluatePayload has the named provider parse a raw webhook payload with
// its headers (signatures are not checked) and evaluates each event it
// yields.
func (c *Client) EvaluatePayload(ctx context.Context, provider string, headers map[string]string, payload json.RawMessage) ([]Evaluation, error) {
	if provider == "" {
		return nil, errors.New("client: provider is required to evaluate a raw payload")
	}
	return c.evaluate(ctx, evaluateRequest{Provider: provider, Headers: headers, Payload: payload})
}

func (c *Client) evaluate(ctx context.Context, r evaluateRequest) ([]Evaluation, error) {
	var out listResponse[Evaluation]
	if err := c.do(ctx, http.MethodPost, "/evaluate", nil, r, &out); err != nil {
		return nil, err
	}
	if out.Items == nil {
		out.Items = []Evaluation{}
	}
	return out.Items, nil
}

// Me returns the calling agent, its quota usage and any kill switch that
// stops it. It needs an agent token.
func (c *Client) Me(ctx context.Context) (AgentStatus, error) {
	var s AgentStatus
	err := c.do(ctx, http.MethodGet, "/me", nil, nil, &s)
	return s, err
}

// RollbackRequest asks for a rollback (POST /api/v1/rollbacks).
type RollbackRequest struct {
	Provider    string `json:"provider"`
	Repo        string `json:"repo,omitempty"`
	App         string `json:"app,omitempty"`
	Environment string `json:"environment"`
	Namespace   string `json:"namespace,omitempty"`
	To          string `json:"to,omitempty"`
	Reason      string `json:"reason"`
}

// CreateRollback starts a rollback, or returns the one already in
// progress for the same target.
func (c *Client) CreateRollback(ctx context.Context, r RollbackRequest) (rollback.Rollback, error) {
	var out rollback.Rollback
	err := c.do(ctx, http.MethodPost, "/rollbacks", nil, r, &out)
	return out, err
}

// GetRollback returns a rollback's progress.
func (c *Client) GetRollback(ctx context.Context, id string) (rollback.Rollback, error) {
	var out rollback.Rollback
	p, err := escape("rollback", id)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodGet, "/rollbacks/"+p, nil, nil, &out)
	return out, err
}

// Rollbacks lists the rollbacks, newest first (GET /api/v1/rollbacks);
// limit 0 takes the server's default.
func (c *Client) Rollbacks(ctx context.Context, limit int) ([]rollback.Rollback, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return list[rollback.Rollback](ctx, c, "/rollbacks", q)
}

// Watches lists the rollback watches: live ones, or every kept one with
// all; at most limit (the server's default when 0).
func (c *Client) Watches(ctx context.Context, all bool, limit int) ([]rollback.WatchStatus, error) {
	q := url.Values{}
	if all {
		q.Set("all", "true")
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return list[rollback.WatchStatus](ctx, c, "/rollback/watches", q)
}
