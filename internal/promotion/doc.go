// Package promotion raises agents' tiers from their track record. A
// periodic pass (run by the leader) reads each active agent's record from
// the audit log — decisions by outcome over a window, days since its last
// kill switch, rollback and tier change, its age — and asks the policy
// (data.agentgate.promotion.assessment) whether it qualifies for the next
// tier. A qualifying agent is proposed; by configuration the proposal is
// applied at once or waits for the agent's owner or an admin to confirm
// or refuse it. Every proposal, confirmation, refusal and withdrawal is
// audited with the figures behind it.
package promotion
