# Admission rules. Each rule adds a violation
#
#   {"rule": "<id>", "message": "<sentence>", "enforcement": "<mode>"}
#
# to the violations set, with the mode configured for the rule in
# data.agentgate.settings.enforcement.rules (enforce when absent).
#
# Rule ids: unregistered_agent, agent_inactive, agent_expired,
# scope.environment, scope.production, scope.namespace,
# scope.service_account, scope.template_ref, scope.cluster, capability,
# workflow.status_write, initiator.unregistered_agent, initiator.blocked.
#
# End events (event.phase "end") only release what their start event held:
# no rule applies to them except unregistered_agent.
package agentgate.admission

# unregistered_agent: the actor looks machine-driven but matches no
# registered agent.
violations contains violation("unregistered_agent", msg) if {
	is_unregistered
	msg := sprintf(
		"principal %q looks like an AI agent but is not registered with agentgate, so its %s (%s) is refused; %s",
		[event.principal, event_kind, target_desc, unregistered_hint],
	)
}

# unregistered_hint says how to fix an unregistered actor. A Workflow the
# Argo Workflows server submitted without naming a user (no SSO) is the
# server's own service account, not an agent: say how to set that up.
unregistered_hint := concat("", [
	"this Workflow came from the Argo Workflows server without a signed-in user (no SSO), so agentgate cannot tell who submitted it: ",
	"enable SSO on the Argo server (its creator labels then name the user), or have agents submit with their own service accounts, ",
	"or, to govern everything submitted through the server as one agent, register the server's service account with ",
	"\"admission agents create --principal k8s:<server account> --capability workflow\" (see docs/integrations/argo.md, Argo server without SSO)",
]) if {
	object.get(input_event, ["labels", "argo_server_unattributed"], "") == "true"
} else := "register it with \"admission agents create\", naming its owner, environments and namespaces"

# agent_inactive: only active agents may act.
violations contains violation("agent_inactive", msg) if {
	governed
	agent.state != "active"
	msg := sprintf(
		"%s is %s, so its %s (%s) is refused; %s",
		[agent_desc, state_name, event_kind, target_desc, inactive_advice],
	)
}

state_name := agent.state if agent.state != ""

else := "in no lifecycle state"

inactive_advice := sprintf("an operator can resume it with \"admission agents resume %s\"", [agent.id]) if {
	agent.state == "suspended"
} else := "it was stopped by a kill switch; an operator must review it and resume it before it acts again" if {
	agent.state == "killed"
} else := "a decommissioned agent never acts again; register a new agent if the work must go on" if {
	agent.state == "decommissioned"
} else := "an operator must set it active before it acts again"

# agent_expired: the agent's optional expiry has passed. An unreadable
# expiry counts as passed.
violations contains violation("agent_expired", msg) if {
	governed
	is_string(agent.expires_at)
	expiry_ns(agent.expires_at) <= now_ns
	msg := sprintf(
		"%s expired at %s, so its %s (%s) is refused; an operator can extend its expiry or register a replacement agent",
		[agent_desc, agent.expires_at, event_kind, target_desc],
	)
}

# expiry_ns is the expiry in nanoseconds since the epoch. A timestamp after
# the year 2261 does not fit and counts as never; anything else unreadable
# counts as already passed.
expiry_ns(s) := ns if {
	ns := time.parse_rfc3339_ns(s)
} else := max_ns if {
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T`, s)
	to_number(substring(s, 0, 4)) >= 2262
} else := 0

max_ns := 9223372036854775807

# scope.environment: deploys and syncs, and any event naming an environment,
# must target an environment matching one of the agent's environment globs.
# An agent without environments may act in none.
violations contains violation("scope.environment", msg) if {
	governed
	targets_environment
	not glob_any(agent.environments, event.environment)
	msg := sprintf(
		"%s may not act in environment %s, which matches none of its environments (%s); add the environment to the agent's environments or leave the %s to an agent scoped for it",
		[agent_desc, environment_name, quoted_list(as_list(agent.environments)), event_kind],
	)
}

targets_environment if event.kind in {"deploy", "sync"}

targets_environment if event.environment != ""

environment_name := sprintf("%q", [event.environment]) if event.environment != ""

else := "(unnamed)"

# scope.production: a production change that the agent may make by scope but
# whose type and tier are not allowed there without a human. In enforce mode
# it is not a violation but an approval request (require_approval); in warn
# or dryrun mode it is reported as a violation of that mode instead.
violations contains violation("scope.production", production_approval_reason) if {
	production_approval_needed
	rule_mode("scope.production") != "enforce"
}

production_approval_needed if {
	governed
	is_production
	glob_any(agent.environments, event.environment)
	not production_allowed
}

is_production if {
	event.environment != ""
	glob_any(object.get(settings, ["environments", "production"], []), event.environment)
}

production_allowed if agent.tier in production_tiers

production_tiers := as_list(object.get(settings, ["production", "without_approval", agent.type], []))

production_approval_reason := sprintf(
	"%s wants to act in production environment %q, and %s agents of tier %s need a human approval there; ask an approver (%s) to approve it, or promote the agent to a tier allowed in production without approval (%s)",
	[
		agent_desc, event.environment, agent.type, agent.tier,
		concat(", ", approvers_for(event.environment)), quoted_list(production_tiers),
	],
)

# scope.namespace: an event naming a namespace must target one matching the
# agent's namespace globs. An agent without namespaces may act in none.
violations contains violation("scope.namespace", msg) if {
	governed
	event.namespace != ""
	not glob_any(agent.namespaces, event.namespace)
	msg := sprintf(
		"%s may not act in namespace %q, which matches none of its namespaces (%s); add the namespace to the agent's namespaces or leave the %s to an agent scoped for it",
		[agent_desc, event.namespace, quoted_list(as_list(agent.namespaces)), event_kind],
	)
}

# capability: the event kind needs a capability the agent does not list
# (settings.capabilities maps kind -> capability). Warn mode by default.
violations contains violation("capability", msg) if {
	governed
	needed := settings.capabilities[event.kind]
	not needed in agent.capabilities
	msg := sprintf(
		"%s lacks the capability %q needed for %s events (it has %s); add %q to the agent's capabilities or leave the %s to an agent that has it",
		[agent_desc, needed, event.kind, quoted_list(as_list(agent.capabilities)), needed, event_kind],
	)
}

# event_kind names the event in messages.
event_kind := event.kind if event.kind != ""

else := "event"

# target_desc names what the event touches: repo, environment, namespace.
target_desc := "no named target" if count(target_parts) == 0

else := concat(", ", target_parts)

target_parts := [sprintf("%s %q", [field, event[field]]) |
	some field in ["repo", "environment", "namespace"]
	event[field] != ""
]

# scope.service_account: an agent's workflow may run only as service
# accounts its label argo.service_accounts allows (comma-separated globs),
# so naming a powerful serviceAccountName is no privilege escalation. A spec
# that names none runs as "default".
violations contains violation("scope.service_account", msg) if {
	governed
	event.kind == "workflow"
	some sa in workflow_service_accounts
	not glob_any(allowed_service_accounts, sa)
	msg := sprintf(
		"%s may not run workflows as service account %q, which matches none of its allowed service accounts (%s); set the agent's label argo.service_accounts or use an allowed account",
		[agent_desc, sa, quoted_list(allowed_service_accounts)],
	)
}

allowed_service_accounts := [trim_space(s) |
	some s in split(object.get(agent, ["labels", "argo.service_accounts"], ""), ",")
	trim_space(s) != ""
]

workflow_service_accounts := {"default"} if {
	object.get(event, ["labels", "service_accounts"], "") == ""
} else := {trim_space(s) | some s in split(event.labels.service_accounts, ","); trim_space(s) != ""}

# workflow.status_write: only the workflow controller writes a Workflow's
# status (its own requests never reach agentgate) and the Argo Workflows
# server (retry, resume); the webhook sends any other status write as an
# event with action "update_status". Whoever writes it — agent or not —
# could mark a running Workflow finished and free its concurrent_workflows
# slot, so it is refused for everyone.
violations contains violation("workflow.status_write", msg) if {
	event.kind == "workflow"
	object.get(input_event, "action", "") == "update_status"
	msg := sprintf(
		"principal %q may not write the status of Workflow %q: only the workflow controller and the Argo Workflows server do; resume, retry or stop the workflow through the Argo server (argo resume|retry|stop with ARGO_SERVER set), or change spec.suspend or spec.shutdown",
		[event.principal, event.repo],
	)
}

# scope.template_ref: an agent's workflow references a WorkflowTemplate or
# ClusterWorkflowTemplate (workflowTemplateRef, templateRef in steps, DAG
# tasks or hooks) that agentgate could not read, so what it would run — and
# as which service account — is unknown: refused (fail closed). People's
# workflows are not refused for it.
violations contains violation("scope.template_ref", msg) if {
	governed
	event.kind == "workflow"
	unresolved := object.get(input_event, ["labels", "unresolved_template_refs"], "")
	unresolved != ""
	msg := sprintf(
		"%s references templates agentgate could not resolve, so what the workflow would run cannot be checked: %s; create the template first, or check agentgate's access to WorkflowTemplates and ClusterWorkflowTemplates (argo.watch)",
		[agent_desc, unresolved],
	)
}

# scope.cluster: a cluster-scoped object (a ClusterWorkflowTemplate) is in
# no namespace and usable from every one, so the namespace rule cannot
# scope it: only an agent whose namespaces include "*" may write one.
violations contains violation("scope.cluster", msg) if {
	governed
	object.get(input_event, ["labels", "cluster_scoped"], "") == "true"
	not "*" in object.get(agent, "namespaces", [])
	msg := sprintf(
		"%s may not write cluster-scoped %s (%s): it is usable from every namespace, and the agent is scoped to %s; leave it to a person or an agent whose namespaces include \"*\"",
		[agent_desc, object.get(input_event, ["labels", "resource_kind"], "objects"), target_desc, quoted_list(as_list(agent.namespaces))],
	)
}

# initiator.unregistered_agent: the actor acts for (input.initiator) an
# identity that looks like an agent but is registered as none. Both the
# actor and whom it acts for must be allowed: a chain of bots is governed
# at every link.
violations contains violation("initiator.unregistered_agent", msg) if {
	not is_end
	object.get(input, ["initiator", "unregistered_agent"], false) == true
	msg := sprintf(
		"principal %q acts for %q, which looks like an AI agent but is not registered with agentgate, so its %s (%s) is refused; register %q with \"admission agents create\"",
		[event.principal, input.initiator.principal, event_kind, target_desc, input.initiator.principal],
	)
}

# initiator.blocked: an agent (registered or not) acts for a principal
# listed in settings initiators.blocked: people agents may no longer act
# for (someone who left, an account under review). Their own changes are
# not refused by this rule; only what an agent does on their behalf.
# Principals compare case-insensitively, as the providers that fold case
# fold them.
violations contains violation("initiator.blocked", msg) if {
	not is_end
	acts_as_agent
	who := object.get(input, ["initiator", "principal"], "")
	is_string(who)
	lower(who) in blocked_initiators
	msg := sprintf(
		"principal %q acts for %q, for whom agents may not act (settings initiators.blocked), so its %s (%s) is refused",
		[event.principal, who, event_kind, target_desc],
	)
}

# acts_as_agent holds when the actor is an agent, registered or not.
acts_as_agent if is_agent

acts_as_agent if is_unregistered

# blocked_initiators are the principals of settings initiators.blocked,
# lower-cased.
blocked_initiators := {lower(p) |
	some p in as_list(object.get(settings, ["initiators", "blocked"], []))
	is_string(p)
}
