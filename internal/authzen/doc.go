// Package authzen serves the OpenID AuthZEN Authorization API 1.0 Access
// Evaluation endpoints (POST /access/v1/evaluation and /evaluations), so
// that an API or MCP gateway can ask agentgate whether an agent may act.
// Each evaluation is mapped onto an event (subject → principal, action →
// event kind or API action, resource → repository or labels, context →
// trigger) and decided by the gate like any webhook: identification, kill
// switches, policy, quotas and the audit log.
package authzen
