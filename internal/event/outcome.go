package event

// Outcome is a decision's verdict: the one vocabulary of decisions that the
// gate, the providers' enforcement, the audit log and the API speak.
type Outcome string

// Outcomes.
const (
	// OutcomeAllow lets the change proceed.
	OutcomeAllow Outcome = "allow"
	// OutcomeDeny stops it.
	OutcomeDeny Outcome = "deny"
	// OutcomeApprovalRequired holds it until a person approves or rejects it.
	OutcomeApprovalRequired Outcome = "approval_required"
)

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	return o == OutcomeAllow || o == OutcomeDeny || o == OutcomeApprovalRequired
}
