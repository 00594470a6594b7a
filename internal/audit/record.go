package audit

import (
	"time"
)

// Kind is what a record is about.
type Kind string

// Record kinds.
const (
	KindDecision     Kind = "decision"
	KindEvaluate     Kind = "evaluate"
	KindApproval     Kind = "approval"
	KindKill         Kind = "kill"
	KindPromotion    Kind = "promotion"
	KindRollback     Kind = "rollback"
	KindPolicyReload Kind = "policy_reload"
	KindAdminChange  Kind = "admin_change"
	KindEnforcement  Kind = "enforcement"
	KindAnomaly      Kind = "anomaly"
	KindCost         Kind = "cost"
	// KindRelease records a concurrency lease given back by key, for a run
	// whose end the provider reported without saying who started it.
	KindRelease Kind = "release"
	// KindRefusal records an authenticated event refused as invalid input
	// (an invalid principal, an over-long field) before any decision: the
	// sender got a 400 and nothing was charged or held.
	KindRefusal Kind = "refusal"
	// KindRedelivery records a failed webhook delivery that agentgate
	// asked its sender to deliver again (GitHub never redelivers itself).
	KindRedelivery Kind = "redelivery"
	// KindProposal records a promotion proposed from an agent's track
	// record, and its confirmation, refusal or withdrawal. The tier
	// change itself is a KindPromotion record.
	KindProposal Kind = "promotion_proposal"
)

// Record is one audit entry (design §8). Secrets never appear in it.
type Record struct {
	Seq      int64     `json:"seq"`
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	PrevHash string    `json:"prev_hash"`
	// Hash is the SHA-256 (hex) of the record's canonical body; it is not
	// part of the body itself.
	Hash string `json:"hash,omitempty"`

	Kind  Kind   `json:"kind"`
	Actor string `json:"actor,omitempty"`

	AgentID   string `json:"agent_id,omitempty"`
	AgentName string `json:"agent_name,omitempty"`
	AgentType string `json:"agent_type,omitempty"`
	Owner     string `json:"owner,omitempty"`
	Tier      string `json:"tier,omitempty"`

	Provider    string `json:"provider,omitempty"`
	EventKind   string `json:"event_kind,omitempty"`
	Action      string `json:"action,omitempty"`
	Repo        string `json:"repo,omitempty"`
	Ref         string `json:"ref,omitempty"`
	SHA         string `json:"sha,omitempty"`
	Environment string `json:"environment,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Principal   string `json:"principal,omitempty"`
	// Initiator is whom the actor acted for; ActorIsAgent says the actor
	// was an agent (registered or not); SessionID is the agent's session.
	Initiator    string `json:"initiator,omitempty"`
	ActorIsAgent bool   `json:"actor_is_agent,omitempty"`
	SessionID    string `json:"session_id,omitempty"`

	Trigger  *Trigger  `json:"trigger,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
	Quotas   []Quota   `json:"quotas,omitempty"`
	Approver string    `json:"approver,omitempty"`
	Cost     *Cost     `json:"cost,omitempty"`

	DeliveryID string `json:"delivery_id,omitempty"`
	ApprovalID string `json:"approval_id,omitempty"`
	// Message is a human-readable summary (the reason of an admin change,
	// the error of a failed enforcement, ...).
	Message string `json:"message,omitempty"`
	// Details holds kind-specific fields (old and new tier, kill switch id, ...).
	Details map[string]string `json:"details,omitempty"`
}

// Trigger is what prompted an agent's change.
type Trigger struct {
	Prompt      string `json:"prompt,omitempty"`
	Reasoning   string `json:"reasoning,omitempty"`
	Source      string `json:"source,omitempty"`
	TriggeredBy string `json:"triggered_by,omitempty"`
	AgentID     string `json:"agent_id,omitempty"`
}

// Decision is the admission outcome as recorded.
type Decision struct {
	Outcome   string   `json:"outcome"`
	Effective string   `json:"effective,omitempty"`
	Reasons   []string `json:"reasons,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	// DryRun are violations of rules in dryrun mode: recorded, not enforced
	// and not shown to the sender.
	DryRun         []string `json:"dryrun,omitempty"`
	Enforcement    string   `json:"enforcement,omitempty"`
	PolicyRevision string   `json:"policy_revision,omitempty"`
	Unregistered   bool     `json:"unregistered_agent,omitempty"`
}

// Quota is one quota's state after a decision.
type Quota struct {
	Name  string `json:"name"`
	Used  int64  `json:"used"`
	Limit int64  `json:"limit"`
}

// Cost is a metered cost attributed to the record's agent.
type Cost struct {
	Minutes  float64 `json:"minutes,omitempty"`
	Amount   float64 `json:"amount,omitempty"`
	Currency string  `json:"currency,omitempty"`
}
