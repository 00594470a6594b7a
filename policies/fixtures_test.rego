# Fixtures for the admission policy tests.
#
# The tests pin their own data (fixture_tiers, fixture_settings) with `with`,
# so an operator who edits data/*.yaml does not break them: they test the
# policy's logic. data_test.rego checks the shipped data itself.
package agentgate.admission_test

import data.agentgate.admission

# decide evaluates the decision for inp with the fixture data.
decide(inp) := d if {
	d := admission.decision with input as inp
		with data.agentgate.tiers as fixture_tiers
		with data.agentgate.settings as fixture_settings
}

# decide_with evaluates the decision for inp with other settings.
decide_with(inp, settings) := d if {
	d := admission.decision with input as inp
		with data.agentgate.tiers as fixture_tiers
		with data.agentgate.settings as settings
}

# with_rule_modes returns the fixture settings with the given rule modes
# replacing the fixture's.
with_rule_modes(modes) := object.union(
	object.remove(fixture_settings, ["enforcement"]),
	{"enforcement": {"mode": "enforce", "rules": modes}},
)

# all_pass holds when no case failed; otherwise it prints the failing case
# names (shown by the test runner with the failure) and fails. Table tests
# collect their failing cases rather than using test_x[name] rules, which
# the test runner traces and which run an order of magnitude slower.
all_pass(failed) if {
	count(failed) == 0
} else := false if {
	print("failing cases:", failed)
}

# rule_ids returns the set of rule ids of a reason list.
rule_ids(reasons) := {r.rule | some r in reasons}

now := "2025-06-01T12:00:00Z"

# agent returns the base agent (a new coding agent) with overrides.
agent(overrides) := object.union(
	{
		"id": "ag_fixer",
		"name": "fixer",
		"type": "coding",
		"owner": "team-web",
		"tier": "new",
		"state": "active",
		"capabilities": ["build", "workflow", "deploy"],
		"environments": ["staging", "preview-*", "pr-*", "review/*"],
		"namespaces": ["web-*"],
		"principals": ["github:fixer[bot]"],
		"labels": {"argo.service_accounts": "default"},
		"created_at": "2025-01-01T00:00:00Z",
		"updated_at": "2025-01-01T00:00:00Z",
		"version": 1,
	},
	overrides,
)

# event returns the base event (a GitHub build of acme/api) with overrides.
event(overrides) := object.union(
	{
		"provider": "github",
		"kind": "build",
		"action": "requested",
		"repo": "acme/api",
		"ref": "refs/heads/main",
		"sha": "0123456789abcdef0123456789abcdef01234567",
		"principal": "github:fixer[bot]",
		"machine": true,
	},
	overrides,
)

# agent_input is an event by an agent.
agent_input(a, e) := {"event": e, "agent": a, "unregistered_agent": false, "usage": {}, "now": now}

# human_input is an event by a person.
human_input(e) := {"event": e, "agent": null, "unregistered_agent": false, "usage": {}, "now": now}

# unregistered_input is an event by an unregistered bot.
unregistered_input(e) := {"event": e, "agent": null, "unregistered_agent": true, "usage": {}, "now": now}

deployer(tier) := agent({
	"id": "ag_shipit",
	"name": "shipit",
	"type": "deployment",
	"tier": tier,
	"capabilities": ["deploy"],
	"environments": ["staging", "production", "prod-*"],
	"namespaces": ["*"],
})

fixture_tiers := {
	"limits": {
		"coding": {
			"new": {"builds_per_hour": 20, "concurrent_environments": 2, "api_calls_per_minute": 500, "concurrent_workflows": 5},
			"established": {"builds_per_hour": 60, "concurrent_environments": 5, "api_calls_per_minute": 2000, "concurrent_workflows": 15},
			"trusted": {"builds_per_hour": 200, "concurrent_environments": 10, "api_calls_per_minute": 5000, "concurrent_workflows": 40},
		},
		"testing": {
			"new": {"builds_per_hour": 40, "concurrent_environments": 2, "api_calls_per_minute": 1000, "concurrent_workflows": 10},
			"established": {"builds_per_hour": 120, "concurrent_environments": 5, "api_calls_per_minute": 3000, "concurrent_workflows": 25},
			"trusted": {"builds_per_hour": 400, "concurrent_environments": 10, "api_calls_per_minute": 10000, "concurrent_workflows": 60},
		},
		"deployment": {
			"new": {"builds_per_hour": 10, "concurrent_environments": 1, "api_calls_per_minute": 300, "concurrent_workflows": 3},
			"established": {"builds_per_hour": 30, "concurrent_environments": 3, "api_calls_per_minute": 1000, "concurrent_workflows": 10},
			"trusted": {"builds_per_hour": 100, "concurrent_environments": 5, "api_calls_per_minute": 3000, "concurrent_workflows": 20},
		},
		"data-pipeline": {
			"new": {"builds_per_hour": 10, "concurrent_environments": 1, "api_calls_per_minute": 1000, "concurrent_workflows": 5},
			"established": {"builds_per_hour": 30, "concurrent_environments": 2, "api_calls_per_minute": 5000, "concurrent_workflows": 15},
			"trusted": {"builds_per_hour": 100, "concurrent_environments": 4, "api_calls_per_minute": 20000, "concurrent_workflows": 40},
		},
		# A partial row: what it lacks falls back to the default row.
		"docs": {"new": {"builds_per_hour": 5}},
		"default": {
			"new": {"builds_per_hour": 10, "concurrent_environments": 1, "api_calls_per_minute": 300, "concurrent_workflows": 3},
			"established": {"builds_per_hour": 30, "concurrent_environments": 3, "api_calls_per_minute": 1000, "concurrent_workflows": 10},
			"trusted": {"builds_per_hour": 100, "concurrent_environments": 5, "api_calls_per_minute": 3000, "concurrent_workflows": 25},
		},
	},
	"anomaly": {
		"new": {"max_denials_per_minute": 5, "max_requests_per_minute": 60},
		"established": {"max_denials_per_minute": 10, "max_requests_per_minute": 240},
		"trusted": {"max_denials_per_minute": 20, "max_requests_per_minute": 600},
	},
}

fixture_settings := {
	"enforcement": {
		"mode": "enforce",
		"rules": {
			"unregistered_agent": "enforce",
			"agent_inactive": "enforce",
			"agent_expired": "enforce",
			"scope.environment": "enforce",
			"scope.production": "enforce",
			"scope.namespace": "enforce",
			"capability": "warn",
		},
	},
	"quotas": {
		"builds_per_hour": {"kind": "rate", "window": "1h", "cost": 1},
		"api_calls_per_minute": {"kind": "rate", "window": "1m", "cost": 1},
		"concurrent_environments": {"kind": "concurrency", "ttl": "24h"},
		"concurrent_workflows": {"kind": "concurrency", "ttl": "6h", "deadline_grace": "10m"},
	},
	"environments": {
		"ephemeral": ["preview-*", "pr-*", "review/*"],
		"production": ["production", "prod", "prod-*"],
	},
	"production": {"without_approval": {"deployment": ["trusted"]}},
	"approvals": {
		"ttl": "4h",
		"approvers": {
			"production": ["role:admin", "U012ABC"],
			"prod-*": ["role:sre"],
		},
		"default_approvers": ["role:admin"],
	},
	"capabilities": {
		"build": "build",
		"workflow": "workflow",
		"deploy": "deploy",
		"sync": "deploy",
	},
}
