// Package gate is the admission pipeline that every provider shares:
//
//	identify the agent → kill switch? → policy → charge quotas → approval →
//	durable audit record → answer
//
// One transaction claims the delivery id (de-duplication), charges quotas
// all-or-nothing, creates the approval, appends the audit record and stores
// the answer for replays, so an acknowledged decision is always in the audit
// log and a replayed delivery is never charged twice. Providers only
// verify, parse and enforce; they never decide.
package gate
