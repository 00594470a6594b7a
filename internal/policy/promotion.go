package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/agentgate/agentgate/internal/agents"
)

// PromotionQuery is the promotion assessment a policy set may define.
const PromotionQuery = "data.agentgate.promotion.assessment"

// ErrNoPromotionRules is what Assess returns for a policy set that
// defines no promotion assessment: nothing is ever proposed.
var ErrNoPromotionRules = errors.New("policy: the policy set defines no " + PromotionQuery)

// TrackRecord is an agent's record as the promotion job sees it.
type TrackRecord struct {
	// Days is the window the counts cover.
	Days      int   `json:"days"`
	Decisions int64 `json:"decisions"`
	Allowed   int64 `json:"allowed"`
	Denied    int64 `json:"denied"`
	Held      int64 `json:"held"`
	Kills     int64 `json:"kills"`
	Rollbacks int64 `json:"rollbacks"`
	// DaysSince* are whole days since the agent's last kill switch,
	// rollback and tier change records; -1 when it has none.
	DaysSinceKill       int `json:"days_since_kill"`
	DaysSinceRollback   int `json:"days_since_rollback"`
	DaysSinceTierChange int `json:"days_since_tier_change"`
	// AgeDays is whole days since the agent was registered.
	AgeDays int `json:"age_days"`
}

// PromotionInput is the input of the promotion assessment.
type PromotionInput struct {
	Agent  agents.Agent `json:"agent"`
	Record TrackRecord  `json:"record"`
	Now    string       `json:"now"`
}

// Criterion is one threshold the assessment checked.
type Criterion struct {
	Name    string `json:"name"`
	Want    any    `json:"want"`
	Got     any    `json:"got"`
	Met     bool   `json:"met"`
	Message string `json:"message"`
}

// Assessment is the policy's view of an agent's promotion.
type Assessment struct {
	Eligible bool `json:"eligible"`
	// To is the tier the agent would move to.
	To       agents.Tier `json:"to,omitempty"`
	Reasons  []string    `json:"reasons"`
	Criteria []Criterion `json:"criteria"`
	// Revision is the policy set that assessed.
	Revision string `json:"policy_revision"`
}

// Assess evaluates the served set's promotion assessment for in.
func (e *Engine) Assess(ctx context.Context, in PromotionInput) (Assessment, error) {
	p := e.current.Load()
	if p == nil {
		return Assessment{}, errors.New("policy: no policy set loaded")
	}
	if p.promotion == nil {
		return Assessment{}, ErrNoPromotionRules
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return Assessment{}, fmt.Errorf("policy: promotion input: %w", err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Assessment{}, fmt.Errorf("policy: promotion input: %w", err)
	}
	rs, err := p.promotion.Eval(ctx, rego.EvalInput(doc))
	if err != nil {
		return Assessment{}, fmt.Errorf("policy: assess promotion %s: %w", p.revision, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Assessment{}, fmt.Errorf("policy: %s is undefined in revision %s", PromotionQuery, p.revision)
	}
	b, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return Assessment{}, fmt.Errorf("policy: revision %s: assessment: %w", p.revision, err)
	}
	var a Assessment
	if err := json.Unmarshal(b, &a); err != nil {
		return Assessment{}, fmt.Errorf("policy: revision %s: assessment is malformed: %w", p.revision, err)
	}
	if a.Eligible && a.To.Rank() < 0 {
		return Assessment{}, fmt.Errorf("policy: revision %s: assessment proposes tier %q, not one of %v", p.revision, a.To, agents.Tiers())
	}
	a.Revision = p.revision
	return a, nil
}
