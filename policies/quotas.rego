# Quotas charged per event. Limits come from
# data.agentgate.tiers.limits[type][tier][name] (falling back to the
# "default" type row), shapes from data.agentgate.settings.quotas[name].
#
#   builds_per_hour          rate; build and workflow events (not
#                            WorkflowTemplates, which run nothing)
#   concurrent_environments  concurrency; events whose environment matches
#                            settings.environments.ephemeral, keyed
#                            "<repo>/<environment>"
#   concurrent_workflows     concurrency; Argo Workflow creations, keyed
#                            "<namespace>/<name>", released when the
#                            Workflow completes; the lease lives for the
#                            Workflow's activeDeadlineSeconds plus
#                            deadline_grace, else the shape's ttl
#   api_calls_per_minute     rate; events labelled api_call: "true" (a
#                            provider or the generic webhook marks events
#                            that stand for agent API calls)
#
# Quotas are emitted for every agent event whatever the verdict; the gate
# charges them only for events it lets through. End events carry the same
# specs so the concurrency key matches the lease the start event took; the
# gate releases leases on end events and does not charge rate quotas.
# Humans and unregistered agents are charged nothing.
package agentgate.admission

quotas := [q | some q in quota_set]

quota_set contains q if {
	event.kind in {"build", "workflow"}
	not resource_kind in {"WorkflowTemplate", "ClusterWorkflowTemplate"}
	object.get(input_event, "action", "") != "update_status"
	q := rate_quota("builds_per_hour")
}

quota_set contains q if {
	is_workflow_run
	base := concurrency_quota("concurrent_workflows", sprintf("%s/%s", [event.namespace, input_event.handles.name]))
	q := object.union(base, {"ttl": workflow_ttl(base.ttl)})
}

resource_kind := object.get(input_event, ["labels", "resource_kind"], "")

# is_workflow_run holds for the creation of an Argo Workflow, which runs
# until it completes.
is_workflow_run if {
	event.kind == "workflow"
	resource_kind == "Workflow"
	object.get(input_event, "action", "") == "create"
	object.get(input_event, ["handles", "name"], "") != ""
}

# workflow_ttl is how long a running Workflow's lease lives without its end:
# its activeDeadlineSeconds plus the shape's deadline_grace, else fallback.
workflow_ttl(fallback) := sprintf("%ds", [deadline + ceil(grace_ns / 1000000000)]) if {
	raw := object.get(input_event, ["handles", "active_deadline_seconds"], "")
	regex.match(`^[0-9]{1,9}$`, raw)
	deadline := to_number(raw)
	deadline > 0
	grace_ns := time.parse_duration_ns(object.get(quota_shapes, ["concurrent_workflows", "deadline_grace"], "10m"))
} else := fallback

quota_set contains q if {
	is_ephemeral
	q := concurrency_quota("concurrent_environments", sprintf("%s/%s", [event.repo, event.environment]))
}

quota_set contains q if {
	object.get(input_event, ["labels", "api_call"], "") == "true"
	q := rate_quota("api_calls_per_minute")
}

is_ephemeral if {
	event.environment != ""
	glob_any(object.get(settings, ["environments", "ephemeral"], []), event.environment)
}

# rate_quota is the rate quota spec of name for the agent's type and tier.
rate_quota(name) := {
	"name": name,
	"kind": "rate",
	"limit": limits[name],
	"window": shape.window,
	"cost": object.get(shape, "cost", 1),
} if {
	shape := quota_shapes[name]
	shape.kind == "rate"
}

# concurrency_quota is the concurrency quota spec of name holding key.
concurrency_quota(name, key) := {
	"name": name,
	"kind": "concurrency",
	"limit": limits[name],
	"key": key,
	"ttl": object.get(shape, "ttl", "24h"),
} if {
	shape := quota_shapes[name]
	shape.kind == "concurrency"
}

quota_shapes := object.get(settings, "quotas", {})

# limits are the agent's quota limits: its type row's, each falling back to
# the default row's for the same tier. Undefined for humans.
limits := object.union(
	object.get(tiers, ["limits", "default", agent.tier], {}),
	object.get(tiers, ["limits", agent.type, agent.tier], {}),
)
