# Tests of the quotas an event charges.
package agentgate.admission_test

builds(limit) := {"name": "builds_per_hour", "kind": "rate", "limit": limit, "window": "1h", "cost": 1}

api_calls(limit) := {"name": "api_calls_per_minute", "kind": "rate", "limit": limit, "window": "1m", "cost": 1}

environments(limit, key) := {"name": "concurrent_environments", "kind": "concurrency", "limit": limit, "key": key, "ttl": "24h"}

workflows(limit, key, ttl) := {"name": "concurrent_workflows", "kind": "concurrency", "limit": limit, "key": key, "ttl": ttl}

# argo_event is an Argo admission event for a resource kind and action.
argo_event(kind, action, handles) := event({
	"provider": "argo", "kind": "workflow", "action": action, "repo": "team-a/etl-", "namespace": "team-a",
	"principal": "k8s:system:serviceaccount:team-a:etl-agent",
	"labels": {"resource_kind": kind}, "handles": handles,
})

typed(type, tier) := agent({"type": type, "tier": tier})

# quota_cases: name -> {input, quotas (set of specs)}.
quota_cases := {
	"new coding agent build": {
		"input": agent_input(typed("coding", "new"), event({})),
		"quotas": {builds(20)},
	},
	"established coding agent build": {
		"input": agent_input(typed("coding", "established"), event({})),
		"quotas": {builds(60)},
	},
	"trusted coding agent build": {
		"input": agent_input(typed("coding", "trusted"), event({})),
		"quotas": {builds(200)},
	},
	"new testing agent workflow": {
		"input": agent_input(typed("testing", "new"), event({"kind": "workflow"})),
		"quotas": {builds(40)},
	},
	"trusted testing agent workflow": {
		"input": agent_input(typed("testing", "trusted"), event({"kind": "workflow"})),
		"quotas": {builds(400)},
	},
	"established deployment agent build": {
		"input": agent_input(typed("deployment", "established"), event({})),
		"quotas": {builds(30)},
	},
	"trusted data-pipeline agent build": {
		"input": agent_input(typed("data-pipeline", "trusted"), event({})),
		"quotas": {builds(100)},
	},
	"custom type uses the default row": {
		"input": agent_input(typed("security-scanner", "new"), event({})),
		"quotas": {builds(10)},
	},
	"partial type row uses its own limit": {
		"input": agent_input(typed("docs", "new"), event({})),
		"quotas": {builds(5)},
	},
	"partial type row falls back per tier": {
		"input": agent_input(typed("docs", "established"), event({})),
		"quotas": {builds(30)},
	},
	"partial type row falls back per quota": {
		"input": agent_input(typed("docs", "new"), event({"kind": "deploy", "environment": "preview-1"})),
		"quotas": {environments(1, "acme/api/preview-1")},
	},
	"unknown tier charges nothing": {
		"input": agent_input(typed("coding", "legendary"), event({})),
		"quotas": set(),
	},
	"deploy to a preview environment holds a lease": {
		"input": agent_input(typed("coding", "new"), event({"kind": "deploy", "environment": "preview-42"})),
		"quotas": {environments(2, "acme/api/preview-42")},
	},
	"build into a pr environment charges both": {
		"input": agent_input(typed("coding", "established"), event({"environment": "pr-7"})),
		"quotas": {builds(60), environments(5, "acme/api/pr-7")},
	},
	"review app key keeps the slash": {
		"input": agent_input(typed("coding", "new"), event({"kind": "deploy", "environment": "review/feature-1"})),
		"quotas": {environments(2, "acme/api/review/feature-1")},
	},
	"sync to a preview environment holds a lease": {
		"input": agent_input(typed("deployment", "trusted"), event({"kind": "sync", "environment": "preview-1", "repo": "shop"})),
		"quotas": {environments(5, "shop/preview-1")},
	},
	"deploy to staging charges nothing": {
		"input": agent_input(typed("coding", "new"), event({"kind": "deploy", "environment": "staging"})),
		"quotas": set(),
	},
	"api_call label charges api calls": {
		"input": agent_input(typed("coding", "new"), event({"kind": "workflow", "labels": {"api_call": "true"}})),
		"quotas": {builds(20), api_calls(500)},
	},
	"api_call label on a deploy": {
		"input": agent_input(typed("data-pipeline", "established"), event({"kind": "deploy", "environment": "staging", "labels": {"api_call": "true"}})),
		"quotas": {api_calls(5000)},
	},
	"api_call label must be true": {
		"input": agent_input(typed("coding", "new"), event({"kind": "deploy", "environment": "staging", "labels": {"api_call": "yes"}})),
		"quotas": set(),
	},
	"end event carries the same lease spec": {
		"input": agent_input(typed("coding", "new"), event({"kind": "deploy", "environment": "preview-42", "phase": "end"})),
		"quotas": {environments(2, "acme/api/preview-42")},
	},
	"end build carries the same specs": {
		"input": agent_input(typed("coding", "new"), event({"environment": "pr-7", "phase": "end"})),
		"quotas": {builds(20), environments(2, "acme/api/pr-7")},
	},
	"end event of a suspended agent still releases": {
		"input": agent_input(agent({"state": "suspended"}), event({"kind": "deploy", "environment": "preview-42", "phase": "end"})),
		"quotas": {environments(2, "acme/api/preview-42")},
	},
	"denied event still names its quotas": {
		"input": agent_input(agent({"state": "suspended"}), event({})),
		"quotas": {builds(20)},
	},
	"workflow creation holds a running-workflow lease for its deadline": {
		"input": agent_input(typed("coding", "new"), argo_event("Workflow", "create", {"name": "etl-x7k2p", "active_deadline_seconds": "3600"})),
		"quotas": {builds(20), workflows(5, "team-a/etl-x7k2p", "4200s")},
	},
	"workflow without a deadline holds the lease for the shape's ttl": {
		"input": agent_input(typed("data-pipeline", "trusted"), argo_event("Workflow", "create", {"name": "etl-1"})),
		"quotas": {builds(100), workflows(40, "team-a/etl-1", "6h")},
	},
	"a templated deadline falls back to the ttl": {
		"input": agent_input(typed("coding", "new"), argo_event("Workflow", "create", {"name": "etl-1", "active_deadline_seconds": "{{workflow.parameters.deadline}}"})),
		"quotas": {builds(20), workflows(5, "team-a/etl-1", "6h")},
	},
	"a zero deadline falls back to the ttl": {
		"input": agent_input(typed("coding", "new"), argo_event("Workflow", "create", {"name": "etl-1", "active_deadline_seconds": "0"})),
		"quotas": {builds(20), workflows(5, "team-a/etl-1", "6h")},
	},
	"workflow update holds no new lease": {
		"input": agent_input(typed("coding", "new"), argo_event("Workflow", "update", {"name": "etl-1"})),
		"quotas": {builds(20)},
	},
	"cron workflow is a build but runs nothing itself": {
		"input": agent_input(typed("coding", "new"), argo_event("CronWorkflow", "create", {"name": "nightly"})),
		"quotas": {builds(20)},
	},
	"workflow template charges nothing": {
		"input": agent_input(typed("coding", "new"), argo_event("WorkflowTemplate", "create", {"name": "etl"})),
		"quotas": set(),
	},
	"humans are charged nothing": {
		"input": human_input(event({"environment": "preview-1", "labels": {"api_call": "true"}})),
		"quotas": set(),
	},
	"unregistered agents are charged nothing": {
		"input": unregistered_input(event({"environment": "preview-1"})),
		"quotas": set(),
	},
}

test_quotas if {
	all_pass({name | some name, tc in quota_cases; not quota_case_passes(tc)})
}

quota_case_passes(tc) if {
	d := decide(tc.input)
	{q | some q in d.quotas} == tc.quotas
	count(d.quotas) == count(tc.quotas)
}

test_quota_shapes_come_from_settings if {
	settings := object.union(fixture_settings, {"quotas": {"builds_per_hour": {"window": "30m", "cost": 2}}})
	d := decide_with(agent_input(agent({}), event({})), settings)
	d.quotas == [{"name": "builds_per_hour", "kind": "rate", "limit": 20, "window": "30m", "cost": 2}]
}

test_quota_without_shape_is_not_charged if {
	settings := object.remove(fixture_settings, ["quotas"])
	d := decide_with(agent_input(agent({}), event({"environment": "preview-1"})), settings)
	d.quotas == []
}

test_lease_ttl_defaults_to_24h if {
	settings := json.remove(fixture_settings, ["quotas/concurrent_environments/ttl"])
	d := decide_with(agent_input(agent({}), event({"kind": "deploy", "environment": "preview-1"})), settings)
	d.quotas == [environments(2, "acme/api/preview-1")]
}

test_every_type_and_tier_has_build_quota if {
	all_pass({sprintf("%s/%s", [type, tier]) |
		some type, rows in fixture_tiers.limits
		type != "docs"
		some tier, limits in rows
		decide(agent_input(typed(type, tier), event({}))).quotas != [builds(limits.builds_per_hour)]
	})
}
