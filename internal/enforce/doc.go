// Package enforce carries decisions back to providers after the webhook was
// answered: cancel a run, answer a deployment callback, release a held
// change once its approval is resolved. Jobs run on a bounded worker pool,
// are retried with exponential back-off (honouring the provider's
// Retry-After), stop at once on a permanent error, and every final outcome
// is written to the audit log; failures are also counted in
// agentgate_enforcement_failures_total.
//
// The queue lives in memory: a job still queued when the process stops does
// not run (an audit record says so); its decision is already in the audit
// log, and the CI system's own timeout applies to what it was waiting for
// (a deployment protection rule left unanswered times out at GitHub).
package enforce
