package gate

import (
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

// Outcome is the verdict of a decision (event.Outcome, the one vocabulary).
type Outcome = event.Outcome

// Outcomes.
const (
	Allow            = event.OutcomeAllow
	Deny             = event.OutcomeDeny
	ApprovalRequired = event.OutcomeApprovalRequired
)

// Result is a decision as answered to the sender and stored for replays.
type Result struct {
	// DecisionID is the id of the audit record of this decision.
	DecisionID string `json:"decision_id"`
	AuditSeq   int64  `json:"audit_seq,omitempty"`
	// Outcome is the verdict the policy and quotas reached.
	Outcome Outcome `json:"outcome"`
	// Effective is what the sender must do: the outcome under enforcement
	// enforce, allow under warn and dryrun.
	Effective   Outcome            `json:"effective"`
	Enforcement policy.Enforcement `json:"enforcement"`
	Reasons     []policy.Reason    `json:"reasons"`
	Warnings    []policy.Reason    `json:"warnings,omitempty"`
	Agent       *agents.Ref        `json:"agent,omitempty"`
	// Unregistered is true for a machine actor that matched no agent.
	Unregistered bool `json:"unregistered_agent,omitempty"`
	// ActorIsAgent is true when the actor is an agent, registered or not.
	ActorIsAgent bool `json:"actor_is_agent,omitempty"`
	// Initiator is whom the actor acted for, when the provider says.
	Initiator      *policy.Initiator   `json:"initiator,omitempty"`
	Quotas         []store.QuotaResult `json:"quotas,omitempty"`
	Approval       *ApprovalRef        `json:"approval,omitempty"`
	PolicyRevision string              `json:"policy_revision"`
	// Released lists the concurrency leases an end event gave back.
	Released []string `json:"released,omitempty"`
	// Replayed is true when the answer comes from an earlier delivery with
	// the same id; nothing was charged again.
	Replayed bool `json:"replayed,omitempty"`
	// DryRun is true for /api/v1/evaluate answers: nothing was charged.
	DryRun bool `json:"dry_run,omitempty"`
	// DryRunViolations are hits of rules in dryrun mode. Only evaluate
	// answers carry them; decisions record them in the audit log alone.
	DryRunViolations []policy.Reason `json:"dryrun_violations,omitempty"`
}

// ApprovalRef points at the approval a decision created.
type ApprovalRef struct {
	ID        string    `json:"id"`
	Approvers []string  `json:"approvers"`
	ExpiresAt time.Time `json:"expires_at"`
	Reason    string    `json:"reason"`
}

// Reasons codes used by the gate itself (policies add their own).
const (
	RuleKillSwitch   = "killswitch"
	RuleQuota        = "quota"
	RulePolicyFailed = "policy_unavailable"
)
