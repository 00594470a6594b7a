package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

// AgentRecord is an agent's track record as the promotion job sees it
// (GET /api/v1/agents/{id}/record).
type AgentRecord struct {
	Agent           agents.Agent       `json:"agent"`
	Mode            string             `json:"mode"`
	Record          policy.TrackRecord `json:"record"`
	Assessment      *policy.Assessment `json:"assessment,omitempty"`
	AssessmentError string             `json:"assessment_error,omitempty"`
	Pending         *store.Proposal    `json:"pending,omitempty"`
}

// AgentRecord reads an agent's (id or name) track record.
func (c *Client) AgentRecord(ctx context.Context, idOrName string) (AgentRecord, error) {
	var out AgentRecord
	p, err := escape("agent", idOrName)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodGet, "/agents/"+p+"/record", nil, nil, &out)
	return out, err
}

// ListPromotions lists promotion proposals, newest first; agent is a name
// or an id, limit 0 the server's default.
func (c *Client) ListPromotions(ctx context.Context, state, agent string, limit int) ([]store.Proposal, error) {
	q := url.Values{}
	setIf(q, "state", state)
	setIf(q, "agent", agent)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return list[store.Proposal](ctx, c, "/promotions", q)
}

// DecidePromotion confirms (with an optional note) or refuses (with a
// required reason) a pending proposal.
func (c *Client) DecidePromotion(ctx context.Context, id string, confirm bool, text string) (store.Proposal, error) {
	var out store.Proposal
	p, err := escape("promotion", id)
	if err != nil {
		return out, err
	}
	verb, key := "/refuse", "reason"
	if confirm {
		verb, key = "/confirm", "note"
	}
	var body any
	if text != "" {
		body = map[string]string{key: text}
	}
	err = c.do(ctx, http.MethodPost, "/promotions/"+p+verb, nil, body, &out)
	return out, err
}
