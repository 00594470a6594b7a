# Tests of the quotas an event charges.
package agentgate.admission_test

builds(limit) := {"name": "builds_per_hour", "kind": "rate", "limit": limit, "window": "1h", "cost": 1}

api_calls(limit) := {"name": "api_calls_per_minute", "kind": "rate", "limit": limit, "window": "1m", "cost": 1}

environments(limit, key) := {"name": "concurrent_environments", "kind": "concurrency", "limit": limit, "key": key, "ttl": "24h"}

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
