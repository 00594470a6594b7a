# The built-in admission policy of agentgate.
#
# The gate evaluates data.agentgate.admission.decision against
#
#   {"event": {...}, "agent": {...} | null, "unregistered_agent": bool,
#    "usage": {...}, "now": "RFC3339"}
#
# and reads back the decision document (see decision below). Rules are in
# rules.rego, quotas in quotas.rego; data in data/*.yaml is loaded under
# data.agentgate (tiers at data.agentgate.tiers, settings at
# data.agentgate.settings).
package agentgate.admission

# decision is the document the gate reads (policy.Decision in Go).
#
#   allow             true when no violation is in enforce mode
#   deny              the enforce-mode violations
#   warnings          the warn- and dryrun-mode violations, each carrying
#                     its mode in "enforcement"; the gate shows the sender
#                     only the "warn" ones and records all of them
#   require_approval  an approval request, or null (never set alongside a
#                     deny: a denied event is not worth a human's time)
#   quotas            the quotas this event charges (see quotas.rego)
#   enforcement       the global mode from settings.enforcement.mode
#   anomaly           the anomaly thresholds for the agent's tier, or null
#                     for humans and unregistered agents
decision := {
	"allow": count(deny) == 0,
	"deny": deny,
	"warnings": warnings,
	"require_approval": require_approval,
	"quotas": quotas,
	"enforcement": global_mode,
	"anomaly": anomaly,
	"on_rollback": on_rollback,
}

# on_rollback is what happens to the agent when one of its deploys is
# rolled back automatically: none, demote (one tier down) or kill (its kill
# switch), by tier from settings.rollback.consequence; null for people.
on_rollback := object.get(settings, ["rollback", "consequence", agent.tier], "none") if is_agent
else := null

# deny lists the violations that block the event.
deny := [v | some v in violations; v.enforcement == "enforce"]

# warnings lists the violations that are only reported (warn) or recorded
# (dryrun).
warnings := [v | some v in violations; v.enforcement != "enforce"]

# require_approval asks a human to approve a production change the agent may
# make by scope but not on its own (rule scope.production in enforce mode).
require_approval := {
	"reason": production_approval_reason,
	"approvers": array.concat(approvers_for(event.environment), owner_exclusion),
	"ttl": approval_ttl,
} if {
	production_approval_needed
	rule_mode("scope.production") == "enforce"
	count(deny) == 0
} else := null

# anomaly are the runaway thresholds for the agent's tier.
anomaly := a if {
	is_agent
	a := tiers.anomaly[agent.tier]
} else := null

# ---------------------------------------------------------------------------
# Data

# tiers is data/tiers.yaml: limits[type][tier][quota] and anomaly[tier].
tiers := data.agentgate.tiers if is_object(data.agentgate.tiers)

else := {}

# settings is data/settings.yaml.
settings := data.agentgate.settings if is_object(data.agentgate.settings)

else := {}

# global_mode is the decision's enforcement mode.
global_mode := object.get(settings, ["enforcement", "mode"], "enforce")

# rule_mode returns a rule's enforcement mode; enforce when not configured.
rule_mode(rule) := object.get(settings, ["enforcement", "rules", rule], "enforce")

# violation builds the reason object of a rule.
violation(rule, message) := {
	"rule": rule,
	"message": message,
	"enforcement": rule_mode(rule),
}

approval_ttl := object.get(settings, ["approvals", "ttl"], "4h")

# owner_exclusion adds "!owner" (the agent's owner may not approve its
# changes) when settings.approvals.exclude_owner is true.
owner_exclusion := ["!owner"] if {
	object.get(settings, ["approvals", "exclude_owner"], false) == true
} else := []

# approvers_for returns the approvers of every approvers glob matching env,
# or the default approvers when none matches.
approvers_for(env) := sort(matched) if {
	matched := {a |
		some pattern, list in object.get(settings, ["approvals", "approvers"], {})
		glob.match(pattern, null, env)
		some a in list
	}
	count(matched) > 0
} else := object.get(settings, ["approvals", "default_approvers"], [])

# ---------------------------------------------------------------------------
# Input

# event is input.event with the optional fields defaulted.
event := object.union(
	{
		"provider": "",
		"kind": "",
		"phase": "",
		"repo": "",
		"environment": "",
		"namespace": "",
		"principal": "",
	},
	input_event,
)

input_event := input.event if is_object(input.event)

else := {}

# is_end holds for end events, which release what a start event held.
is_end if event.phase == "end"

# is_agent holds when the event's principal belongs to a registered agent.
is_agent if is_object(input.agent)

# is_unregistered holds when the actor looks like an agent but is not one.
is_unregistered if input.unregistered_agent == true

# Humans (no agent and not unregistered) match no rule: agentgate governs
# agents only, so their events are allowed with no quotas and no anomaly
# thresholds.

# agent is input.agent with missing fields defaulted. A list that is null (a
# nil slice in Go) stays null; the rules treat it as empty.
agent := object.union(
	{
		"id": "",
		"name": "",
		"type": "",
		"owner": "",
		"tier": "",
		"state": "",
		"capabilities": [],
		"environments": [],
		"namespaces": [],
	},
	input.agent,
) if is_agent

# governed holds for start events of registered agents: the agent rules
# apply to them.
governed if {
	is_agent
	not is_end
}

# agent_desc names the agent in messages.
agent_desc := sprintf("%s agent %q (id %s, tier %s, owner %s)", [
	agent.type, agent.name, agent.id, agent.tier, agent.owner,
])

# ---------------------------------------------------------------------------
# Helpers

# as_list returns x when it is an array and [] otherwise (Go writes a nil
# slice as null).
as_list(x) := x if is_array(x)

else := []

# glob_any holds when s matches one of the glob patterns. Matching uses no
# delimiters (null): "*" also matches "/" and ".", so "prod-*" matches
# "prod-eu.west" and "*" matches "review/feature-1". (An empty delimiter
# array would mean ["."] to glob.match.)
glob_any(patterns, s) if {
	some p in patterns
	glob.match(p, null, s)
}

# quoted_list renders a list for messages: ["a", "b"] -> "a", "b"; an empty
# list is "none".
quoted_list(xs) := "none" if count(xs) == 0

else := concat(", ", [sprintf("%q", [x]) | some x in xs])

# now_ns is input.now, or the evaluation time when input.now is missing or
# unreadable.
now_ns := ns if {
	ns := time.parse_rfc3339_ns(input.now)
} else := time.now_ns()
