# Tests of enforcement modes, approvals and the decision document.
package agentgate.admission_test

# mode_cases: name -> {input, settings, deny, warnings (rule -> mode), approval}.
mode_cases := {
	"warn moves a violation to warnings": {
		"input": agent_input(agent({}), event({"namespace": "payments"})),
		"settings": with_rule_modes({"scope.namespace": "warn"}),
		"warnings": {"scope.namespace": "warn"},
	},
	"dryrun records a violation with mode dryrun": {
		"input": agent_input(agent({}), event({"namespace": "payments"})),
		"settings": with_rule_modes({"scope.namespace": "dryrun"}),
		"warnings": {"scope.namespace": "dryrun"},
	},
	"an unlisted rule is enforced": {
		"input": agent_input(agent({"capabilities": []}), event({})),
		"settings": with_rule_modes({}),
		"deny": {"capability"},
	},
	"capability can be enforced": {
		"input": agent_input(agent({"capabilities": ["deploy"]}), event({})),
		"settings": with_rule_modes({"capability": "enforce"}),
		"deny": {"capability"},
	},
	"warn on one rule leaves the others enforced": {
		"input": agent_input(agent({"state": "suspended"}), event({"namespace": "payments"})),
		"settings": with_rule_modes({"scope.namespace": "warn"}),
		"deny": {"agent_inactive"},
		"warnings": {"scope.namespace": "warn"},
	},
	"unregistered agents can be let through in dryrun": {
		"input": unregistered_input(event({})),
		"settings": with_rule_modes({"unregistered_agent": "dryrun"}),
		"warnings": {"unregistered_agent": "dryrun"},
	},
	"production approval in warn mode is a warning": {
		"input": agent_input(deployer("established"), event({"kind": "deploy", "environment": "production"})),
		"settings": with_rule_modes({"scope.production": "warn"}),
		"warnings": {"scope.production": "warn"},
	},
	"production approval in dryrun mode is recorded": {
		"input": agent_input(deployer("established"), event({"kind": "deploy", "environment": "production"})),
		"settings": with_rule_modes({"scope.production": "dryrun"}),
		"warnings": {"scope.production": "dryrun"},
	},
	"production approval is enforced when unlisted": {
		"input": agent_input(deployer("established"), event({"kind": "deploy", "environment": "production"})),
		"settings": with_rule_modes({}),
		"approval": true,
	},
}

test_modes if {
	all_pass({name | some name, tc in mode_cases; not mode_case_passes(tc)})
}

mode_case_passes(tc) if {
	d := decide_with(tc.input, tc.settings)
	rule_ids(d.deny) == object.get(tc, "deny", set())
	{r.rule: r.enforcement | some r in d.warnings} == object.get(tc, "warnings", {})
	every r in d.deny {
		r.enforcement == "enforce"
	}
	want_allow := count(object.get(tc, "deny", set())) == 0
	d.allow == want_allow
	has_approval := d.require_approval != null
	has_approval == object.get(tc, "approval", false)
}

test_global_mode_is_reported_not_applied if {
	settings := object.union(fixture_settings, {"enforcement": {"mode": "warn"}})
	d := decide_with(agent_input(agent({"state": "suspended"}), event({})), settings)
	d.enforcement == "warn"
	rule_ids(d.deny) == {"agent_inactive"}
	d.allow == false
}

test_global_mode_defaults_to_enforce if {
	d := decide_with(agent_input(agent({}), event({})), object.remove(fixture_settings, ["enforcement"]))
	d.enforcement == "enforce"
}

test_without_settings_every_rule_is_enforced if {
	d := decide_with(agent_input(agent({"capabilities": []}), event({"kind": "deploy", "environment": "production"})), {})

	# No capabilities map: no capability rule. No production patterns: no
	# approval. Scope still applies.
	rule_ids(d.deny) == {"scope.environment"}
	d.require_approval == null
	d.quotas == []
	d.enforcement == "enforce"
}

test_approval_for_production if {
	d := decide(agent_input(deployer("established"), event({"kind": "deploy", "environment": "production"})))
	d.allow == true
	d.require_approval.approvers == ["U012ABC", "role:admin"]
	d.require_approval.ttl == "4h"
	contains(d.require_approval.reason, `agent "shipit"`)
	contains(d.require_approval.reason, `"production"`)
	contains(d.require_approval.reason, `"trusted"`)
}

test_approvers_by_environment_glob if {
	d := decide(agent_input(deployer("new"), event({"kind": "deploy", "environment": "prod-eu"})))
	d.require_approval.approvers == ["role:sre"]
}

test_approvers_default_when_no_glob_matches if {
	a := agent({"tier": "established", "environments": ["prod"]})
	d := decide(agent_input(a, event({"kind": "deploy", "environment": "prod"})))
	d.require_approval.approvers == ["role:admin"]
}

test_approval_ttl_defaults_to_4h if {
	settings := json.remove(fixture_settings, ["approvals/ttl"])
	d := decide_with(agent_input(deployer("new"), event({"kind": "deploy", "environment": "production"})), settings)
	d.require_approval.ttl == "4h"
}

test_approval_withheld_when_denied if {
	a := object.union(deployer("established"), {"namespaces": ["apps"]})
	d := decide(agent_input(a, event({"kind": "deploy", "environment": "production", "namespace": "web"})))
	d.allow == false
	rule_ids(d.deny) == {"scope.namespace"}
	d.require_approval == null
}

test_violation_shape if {
	d := decide(agent_input(agent({"state": "killed", "capabilities": []}), event({})))
	every r in array.concat(d.deny, d.warnings) {
		object.keys(r) == {"rule", "message", "enforcement"}
		is_string(r.message)
		r.message != ""
	}
}

test_decision_has_every_field if {
	every inp in [
		human_input(event({})),
		unregistered_input(event({})),
		agent_input(agent({}), event({})),
		agent_input(agent({"state": "killed"}), event({"phase": "end"})),
	] {
		d := decide(inp)
		object.keys(d) == {"allow", "deny", "warnings", "require_approval", "quotas", "enforcement", "anomaly", "on_rollback"}
	}
}

test_decision_for_empty_input if {
	d := decide({})
	d.allow == true
	d.quotas == []
	d.anomaly == null
}

test_decision_for_malformed_agent if {
	d := decide({"event": event({"kind": "deploy", "environment": "staging"}), "agent": {}, "now": now})
	d.allow == false
	rule_ids(d.deny) == {"agent_inactive", "scope.environment"}
}

test_anomaly_per_tier if {
	all_pass({tier |
		some tier, want in fixture_tiers.anomaly
		decide(agent_input(agent({"tier": tier}), event({}))).anomaly != want
	})
}

test_anomaly_null_for_humans_and_unregistered if {
	decide(human_input(event({}))).anomaly == null
	decide(unregistered_input(event({}))).anomaly == null
}

test_owner_excluded_when_configured if {
	settings := object.union(fixture_settings, {"approvals": object.union(fixture_settings.approvals, {"exclude_owner": true})})
	d := decide_with(agent_input(agent({"type": "deployment", "tier": "established", "environments": ["production"]}), event({"kind": "deploy", "environment": "production"})), settings)
	"!owner" in d.require_approval.approvers
}

test_owner_not_excluded_by_default if {
	d := decide(agent_input(agent({"type": "deployment", "tier": "established", "environments": ["production"]}), event({"kind": "deploy", "environment": "production"})))
	count(d.require_approval.approvers) > 0
	not "!owner" in d.require_approval.approvers
}

test_on_rollback_by_tier if {
	settings := object.union(fixture_settings, {"rollback": {"consequence": {"new": "kill", "established": "demote"}}})
	decide_with(agent_input(agent({"tier": "new"}), event({})), settings).on_rollback == "kill"
	decide_with(agent_input(agent({"tier": "established"}), event({})), settings).on_rollback == "demote"
	decide_with(agent_input(agent({"tier": "trusted"}), event({})), settings).on_rollback == "none"
	decide(human_input(event({}))).on_rollback == null
}
