package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
)

// ProposalState is where a promotion proposal is in its life.
type ProposalState string

// Proposal states.
const (
	// ProposalPending waits for the owner's or an admin's confirmation.
	ProposalPending ProposalState = "pending"
	// ProposalApplied: the agent was promoted (at once, or confirmed).
	ProposalApplied ProposalState = "applied"
	// ProposalRefused: a person said no.
	ProposalRefused ProposalState = "refused"
	// ProposalWithdrawn: the agent no longer qualified, or changed tier
	// or state, before anyone decided.
	ProposalWithdrawn ProposalState = "withdrawn"
)

// Proposal is a promotion the track-record job proposed.
type Proposal struct {
	ID        string        `json:"id"`
	AgentID   string        `json:"agent_id"`
	AgentName string        `json:"agent_name"`
	Owner     string        `json:"owner"`
	FromTier  agents.Tier   `json:"from_tier"`
	ToTier    agents.Tier   `json:"to_tier"`
	State     ProposalState `json:"state"`
	// Evidence is what the job saw: the track record and the criteria the
	// policy checked.
	Evidence       json.RawMessage `json:"evidence"`
	PolicyRevision string          `json:"policy_revision"`
	CreatedAt      time.Time       `json:"created_at"`
	ResolvedBy     string          `json:"resolved_by,omitempty"`
	Note           string          `json:"note,omitempty"`
	ResolvedAt     *time.Time      `json:"resolved_at,omitempty"`
}

// ProposalFilter selects proposals; zero fields match all. Newest first,
// at most Limit (all when not positive).
type ProposalFilter struct {
	State   ProposalState
	AgentID string
	Limit   int
}

// PromotionStore keeps promotion proposals. CreateProposal is atomic
// across replicas: at most one pending proposal per agent.
type PromotionStore interface {
	// CreateProposal stores p unless the agent has a pending proposal;
	// then that one is returned and created is false.
	CreateProposal(ctx context.Context, p Proposal) (stored Proposal, created bool, err error)
	// GetProposal returns a proposal or ErrNotFound.
	GetProposal(ctx context.Context, id string) (Proposal, error)
	// ListProposals returns matching proposals, newest first.
	ListProposals(ctx context.Context, f ProposalFilter) ([]Proposal, error)
	// ResolveProposal moves a pending proposal to state (applied, refused
	// or withdrawn). ErrConflict, with the stored proposal, when it was no
	// longer pending; ErrNotFound if absent.
	ResolveProposal(ctx context.Context, id string, state ProposalState, by, note string, at time.Time) (Proposal, error)
}
