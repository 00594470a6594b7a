# Tests of the admission rules and their messages.
package agentgate.admission_test

# rule_cases: name -> {input, deny (rule ids), warnings (rule ids), approval}.
# allow is expected exactly when deny is empty.
rule_cases := {
	"agent builds its repo": {"input": agent_input(agent({}), event({}))},
	"human push is allowed": {"input": human_input(event({"principal": "github:octocat", "machine": false}))},
	"human deploy to production is allowed": {"input": human_input(event({"kind": "deploy", "environment": "production"}))},
	"unregistered bot is denied": {
		"input": unregistered_input(event({"principal": "github:rogue[bot]"})),
		"deny": {"unregistered_agent"},
	},
	"unregistered bot end event is denied": {
		"input": unregistered_input(event({"principal": "github:rogue[bot]", "phase": "end"})),
		"deny": {"unregistered_agent"},
	},
	"suspended agent is denied": {
		"input": agent_input(agent({"state": "suspended"}), event({})),
		"deny": {"agent_inactive"},
	},
	"killed agent is denied": {
		"input": agent_input(agent({"state": "killed"}), event({})),
		"deny": {"agent_inactive"},
	},
	"decommissioned agent is denied": {
		"input": agent_input(agent({"state": "decommissioned"}), event({})),
		"deny": {"agent_inactive"},
	},
	"agent without a state is denied": {
		"input": agent_input(object.remove(agent({}), ["state"]), event({})),
		"deny": {"agent_inactive"},
	},
	"expired agent is denied": {
		"input": agent_input(agent({"expires_at": "2025-05-31T12:00:00Z"}), event({})),
		"deny": {"agent_expired"},
	},
	"agent expiring this instant is denied": {
		"input": agent_input(agent({"expires_at": now}), event({})),
		"deny": {"agent_expired"},
	},
	"agent expiring later is allowed": {"input": agent_input(agent({"expires_at": "2025-06-01T12:00:01Z"}), event({}))},
	"expiry with offset is compared as an instant": {
		"input": agent_input(agent({"expires_at": "2025-06-01T13:30:00+02:00"}), event({})),
		"deny": {"agent_expired"},
	},
	"null expiry is no expiry": {"input": agent_input(agent({"expires_at": null}), event({}))},
	"unreadable expiry counts as passed": {
		"input": agent_input(agent({"expires_at": "next tuesday"}), event({})),
		"deny": {"agent_expired"},
	},
	"missing now uses the clock (past expiry)": {
		"input": object.remove(agent_input(agent({"expires_at": "2001-01-01T00:00:00Z"}), event({})), ["now"]),
		"deny": {"agent_expired"},
	},
	"missing now uses the clock (future expiry)": {"input": object.remove(
		agent_input(agent({"expires_at": "2200-01-01T00:00:00Z"}), event({})),
		["now"],
	)},
	"unreadable now uses the clock": {
		"input": object.union(agent_input(agent({"expires_at": "2001-01-01T00:00:00Z"}), event({})), {"now": "soon"}),
		"deny": {"agent_expired"},
	},
	"expiry beyond the nanosecond range never passes": {"input": agent_input(agent({"expires_at": "9999-12-31T23:59:59Z"}), event({}))},
	"expiry before the nanosecond range has passed": {
		"input": agent_input(agent({"expires_at": "1600-01-01T00:00:00Z"}), event({})),
		"deny": {"agent_expired"},
	},
	"deploy to a listed environment is allowed": {"input": agent_input(agent({}), event({"kind": "deploy", "environment": "staging"}))},
	"deploy to an unlisted environment is denied": {
		"input": agent_input(agent({}), event({"kind": "deploy", "environment": "qa"})),
		"deny": {"scope.environment"},
	},
	"staging-only agent deploying to production is denied, not sent for approval": {
		"input": agent_input(agent({"environments": ["staging"]}), event({"kind": "deploy", "environment": "production"})),
		"deny": {"scope.environment"},
	},
	"sync without an environment is denied for a scoped agent": {
		"input": agent_input(agent({}), event({"kind": "sync", "provider": "argocd"})),
		"deny": {"scope.environment"},
	},
	"deploy without an environment is allowed for an agent scoped to *": {"input": agent_input(agent({"environments": ["*"]}), event({"kind": "deploy"}))},
	"build naming an unlisted environment is denied": {
		"input": agent_input(agent({}), event({"environment": "qa"})),
		"deny": {"scope.environment"},
	},
	"build without an environment ignores environment scope": {"input": agent_input(agent({"environments": []}), event({}))},
	"agent with no environments may deploy nowhere": {
		"input": agent_input(agent({"environments": []}), event({"kind": "deploy", "environment": "staging"})),
		"deny": {"scope.environment"},
	},
	"agent with null environments may deploy nowhere": {
		"input": agent_input(agent({"environments": null}), event({"kind": "deploy", "environment": "staging"})),
		"deny": {"scope.environment"},
	},
	"review/* matches review/feature-1": {"input": agent_input(agent({}), event({"kind": "deploy", "environment": "review/feature-1"}))},
	"review/* matches a nested review/a/b": {"input": agent_input(agent({}), event({"kind": "deploy", "environment": "review/a/b"}))},
	"review/* does not match review": {
		"input": agent_input(agent({}), event({"kind": "deploy", "environment": "review"})),
		"deny": {"scope.environment"},
	},
	"review/* does not match reviewer/x": {
		"input": agent_input(agent({}), event({"kind": "deploy", "environment": "reviewer/x"})),
		"deny": {"scope.environment"},
	},
	"preview-* does not match preview": {
		"input": agent_input(agent({}), event({"kind": "deploy", "environment": "preview"})),
		"deny": {"scope.environment"},
	},
	"* matches names with slashes and dots": {"input": agent_input(
		agent({"environments": ["*"]}),
		event({"kind": "deploy", "environment": "review/v1.2"}),
	)},
	"prod-* matches a dotted name": {"input": agent_input(deployer("trusted"), event({"kind": "deploy", "environment": "prod-eu.west-1"}))},
	"environment globs are case-sensitive": {
		"input": agent_input(agent({}), event({"kind": "deploy", "environment": "Staging"})),
		"deny": {"scope.environment"},
	},
	"established deployment agent needs approval for production": {
		"input": agent_input(deployer("established"), event({"kind": "deploy", "environment": "production"})),
		"approval": true,
	},
	"new deployment agent needs approval for prod-eu": {
		"input": agent_input(deployer("new"), event({"kind": "deploy", "environment": "prod-eu"})),
		"approval": true,
	},
	"trusted deployment agent deploys to production without approval": {"input": agent_input(deployer("trusted"), event({"kind": "deploy", "environment": "production"}))},
	"trusted coding agent needs approval for production": {
		"input": agent_input(
			agent({"tier": "trusted", "environments": ["production"]}),
			event({"kind": "deploy", "environment": "production"}),
		),
		"approval": true,
	},
	"production approval covers a namespaced deploy": {
		"input": agent_input(deployer("established"), event({"kind": "deploy", "environment": "production", "namespace": "web"})),
		"approval": true,
	},
	"approval is withheld when another rule denies": {
		"input": agent_input(
			object.union(deployer("established"), {"state": "suspended"}),
			event({"kind": "deploy", "environment": "production"}),
		),
		"deny": {"agent_inactive"},
	},
	"namespace in scope is allowed": {"input": agent_input(agent({}), event({"kind": "workflow", "namespace": "web-frontend"}))},
	"namespace out of scope is denied": {
		"input": agent_input(agent({}), event({"kind": "workflow", "namespace": "payments"})),
		"deny": {"scope.namespace"},
	},
	"agent with no namespaces may act in none": {
		"input": agent_input(agent({"namespaces": []}), event({"kind": "workflow", "namespace": "web-frontend"})),
		"deny": {"scope.namespace"},
	},
	"event without a namespace ignores namespace scope": {"input": agent_input(agent({"namespaces": []}), event({}))},
	"missing capability only warns": {
		"input": agent_input(agent({"capabilities": ["build"]}), event({"kind": "deploy", "environment": "staging"})),
		"warnings": {"capability"},
	},
	"sync needs the deploy capability": {
		"input": agent_input(agent({"capabilities": []}), event({"kind": "sync", "environment": "staging"})),
		"warnings": {"capability"},
	},
	"null capabilities warn": {
		"input": agent_input(agent({"capabilities": null}), event({})),
		"warnings": {"capability"},
	},
	"end event skips every agent rule": {"input": agent_input(
		agent({"state": "suspended", "expires_at": "2001-01-01T00:00:00Z", "environments": [], "namespaces": [], "capabilities": []}),
		event({"kind": "deploy", "environment": "production", "namespace": "payments", "phase": "end"}),
	)},
	"end event never asks for approval": {"input": agent_input(deployer("new"), event({"kind": "deploy", "environment": "production", "phase": "end"}))},
	"every violation is reported": {
		"input": agent_input(
			agent({"state": "suspended", "expires_at": "2001-01-01T00:00:00Z", "capabilities": []}),
			event({"kind": "deploy", "environment": "qa", "namespace": "payments"}),
		),
		"deny": {"agent_inactive", "agent_expired", "scope.environment", "scope.namespace"},
		"warnings": {"capability"},
	},
}

test_rules if {
	all_pass({name | some name, tc in rule_cases; not rule_case_passes(tc)})
}

rule_case_passes(tc) if {
	d := decide(tc.input)
	rule_ids(d.deny) == object.get(tc, "deny", set())
	rule_ids(d.warnings) == object.get(tc, "warnings", set())
	want_allow := count(object.get(tc, "deny", set())) == 0
	d.allow == want_allow
	has_approval := d.require_approval != null
	has_approval == object.get(tc, "approval", false)
}

test_message_unregistered_names_principal if {
	d := decide(unregistered_input(event({"principal": "github:rogue[bot]", "environment": "staging"})))
	some r in d.deny
	r.rule == "unregistered_agent"
	contains(r.message, `"github:rogue[bot]"`)
	contains(r.message, `environment "staging"`)
	contains(r.message, "admission agents create")
}

test_message_inactive_names_state if {
	d := decide(agent_input(agent({"state": "suspended"}), event({})))
	some r in d.deny
	contains(r.message, `agent "fixer"`)
	contains(r.message, "is suspended")
	contains(r.message, "admission agents resume ag_fixer")
}

test_message_expired_names_expiry if {
	d := decide(agent_input(agent({"expires_at": "2025-05-31T12:00:00Z"}), event({})))
	some r in d.deny
	contains(r.message, "expired at 2025-05-31T12:00:00Z")
}

test_message_environment_names_environment_and_scope if {
	d := decide(agent_input(agent({"environments": ["staging"]}), event({"kind": "deploy", "environment": "production"})))
	some r in d.deny
	r.message == concat("", [
		`coding agent "fixer" (id ag_fixer, tier new, owner team-web) may not act in environment "production", `,
		`which matches none of its environments ("staging"); add the environment to the agent's environments `,
		"or leave the deploy to an agent scoped for it",
	])
}

test_message_unnamed_environment if {
	d := decide(agent_input(agent({"environments": []}), event({"kind": "sync"})))
	some r in d.deny
	contains(r.message, "environment (unnamed)")
	contains(r.message, "environments (none)")
}

test_message_namespace_names_namespace if {
	d := decide(agent_input(agent({}), event({"namespace": "payments"})))
	some r in d.deny
	contains(r.message, `namespace "payments"`)
	contains(r.message, `("web-*")`)
}

test_service_account_allowed_by_label if {
	d := decide(agent_input(
		agent({"labels": {"argo.service_accounts": "agent-runner, ci-*"}, "namespaces": ["agents"]}),
		event({"kind": "workflow", "namespace": "agents", "labels": {"service_accounts": "agent-runner,ci-reader"}}),
	))
	not "scope.service_account" in {v.rule | some v in d.deny}
}

test_service_account_escalation_denied if {
	d := decide(agent_input(
		agent({"labels": {"argo.service_accounts": "agent-runner"}, "namespaces": ["agents"]}),
		event({"kind": "workflow", "namespace": "agents", "labels": {"service_accounts": "agent-runner,cluster-admin"}}),
	))
	some v in d.deny
	v.rule == "scope.service_account"
	contains(v.message, "cluster-admin")
}

test_service_account_default_when_none_named if {
	d := decide(agent_input(agent({"labels": {"argo.service_accounts": ""}, "namespaces": ["agents"]}), event({"kind": "workflow", "namespace": "agents"})))
	some v in d.deny
	v.rule == "scope.service_account"
	contains(v.message, "\"default\"")
}

test_service_account_ignores_other_kinds if {
	d := decide(agent_input(agent({}), event({"kind": "build", "labels": {"service_accounts": "cluster-admin"}})))
	not "scope.service_account" in {v.rule | some v in d.deny}
}

# workflow.status_write: a status write is refused whoever makes it, and
# charges nothing.
status_write := event({"provider": "argo", "kind": "workflow", "action": "update_status", "repo": "agents/etl-", "namespace": "agents", "labels": {"resource_kind": "Workflow"}, "handles": {"name": "etl-x"}})

test_status_write_denied_for_an_agent if {
	d := decide(agent_input(agent({"namespaces": ["agents"], "labels": {"argo.service_accounts": "default"}}), status_write))
	some v in d.deny
	v.rule == "workflow.status_write"
	contains(v.message, `"agents/etl-"`)
	count(d.quotas) == 0
}

test_status_write_denied_for_a_human if {
	d := decide(human_input(status_write))
	"workflow.status_write" in {v.rule | some v in d.deny}
	not d.allow
}

test_status_write_denied_for_an_unregistered_agent if {
	d := decide(unregistered_input(status_write))
	"workflow.status_write" in {v.rule | some v in d.deny}
}

test_status_write_rule_ignores_spec_updates if {
	d := decide(human_input(object.union(status_write, {"action": "update"})))
	not "workflow.status_write" in {v.rule | some v in d.deny}
}

test_unregistered_argo_server_without_sso_says_how_to_set_up if {
	e := event({"provider": "argo", "kind": "workflow", "principal": "k8s:system:serviceaccount:argo:argo-server", "labels": {"argo_server_unattributed": "true"}})
	d := decide(unregistered_input(e))
	some v in d.deny
	v.rule == "unregistered_agent"
	contains(v.message, "without a signed-in user (no SSO)")
	contains(v.message, "--capability workflow")
}

test_unregistered_hint_default if {
	d := decide(unregistered_input(event({})))
	some v in d.deny
	v.rule == "unregistered_agent"
	contains(v.message, "naming its owner, environments and namespaces")
	not contains(v.message, "SSO")
}

test_unresolved_template_ref_denied_for_an_agent if {
	d := decide(agent_input(
		agent({"labels": {"argo.service_accounts": "agent-runner"}, "namespaces": ["agents"]}),
		event({"kind": "workflow", "namespace": "agents", "labels": {"service_accounts": "agent-runner", "unresolved_template_refs": "WorkflowTemplate/agents/ghost (not found)"}}),
	))
	some v in d.deny
	v.rule == "scope.template_ref"
	contains(v.message, "WorkflowTemplate/agents/ghost")
}

test_unresolved_template_ref_allowed_for_a_human if {
	d := decide(human_input(event({"kind": "workflow", "labels": {"unresolved_template_refs": "WorkflowTemplate/agents/ghost (not found)"}})))
	d.allow
}

test_resolved_template_ref_not_denied if {
	d := decide(agent_input(
		agent({"labels": {"argo.service_accounts": "agent-runner"}, "namespaces": ["agents"]}),
		event({"kind": "workflow", "namespace": "agents", "labels": {"service_accounts": "agent-runner", "template_refs": "WorkflowTemplate/agents/lib"}}),
	))
	not "scope.template_ref" in {v.rule | some v in d.deny}
}

cluster_template := event({"provider": "argo", "kind": "workflow", "action": "create", "repo": "cluster/platform-ops", "labels": {"resource_kind": "ClusterWorkflowTemplate", "cluster_scoped": "true", "service_accounts": "agent-runner"}})

test_cluster_template_denied_for_a_namespaced_agent if {
	d := decide(agent_input(agent({"namespaces": ["agents"], "labels": {"argo.service_accounts": "agent-runner"}}), cluster_template))
	some v in d.deny
	v.rule == "scope.cluster"
	contains(v.message, "ClusterWorkflowTemplate")
	count(d.quotas) == 0
}

test_cluster_template_allowed_for_an_agent_of_every_namespace if {
	d := decide(agent_input(agent({"namespaces": ["*"], "environments": ["*"], "labels": {"argo.service_accounts": "agent-runner"}}), cluster_template))
	not "scope.cluster" in {v.rule | some v in d.deny}
}

test_initiator_unregistered_agent_denied if {
	inp := object.union(agent_input(agent({}), event({})), {"initiator": {"principal": "github:helper[bot]", "agent": null, "unregistered_agent": true}})
	d := decide(inp)
	some v in d.deny
	v.rule == "initiator.unregistered_agent"
	contains(v.message, "github:helper[bot]")
}

test_initiator_person_not_denied if {
	inp := object.union(agent_input(agent({}), event({})), {"initiator": {"principal": "github:octocat", "agent": null, "unregistered_agent": false}})
	d := decide(inp)
	not "initiator.unregistered_agent" in {v.rule | some v in d.deny}
}

blocked_settings := object.union(fixture_settings, {"initiators": {"blocked": ["github:Mallory", 42]}})

acting_for(who) := {"principal": who, "agent": null, "unregistered_agent": false}

test_initiator_blocked if {
	cases := {
		"an agent acting for a blocked person": {"in": object.union(agent_input(agent({}), event({})), {"initiator": acting_for("github:mallory")}), "denied": true},
		"an unregistered agent acting for a blocked person": {"in": object.union(unregistered_input(event({})), {"initiator": acting_for("github:mallory")}), "denied": true},
		"blocked names compare without case": {"in": object.union(agent_input(agent({}), event({})), {"initiator": acting_for("github:MALLORY")}), "denied": true},
		"an agent acting for another person": {"in": object.union(agent_input(agent({}), event({})), {"initiator": acting_for("github:octocat")}), "denied": false},
		"an agent acting for nobody": {"in": agent_input(agent({}), event({})), "denied": false},
		"the blocked person's own change": {"in": human_input(event({"principal": "github:mallory"})), "denied": false},
		"an end event": {"in": object.union(agent_input(agent({}), event({"phase": "end"})), {"initiator": acting_for("github:mallory")}), "denied": false},
	}
	all_pass({name |
		some name, tc in cases
		d := decide_with(tc["in"], blocked_settings)
		denied := "initiator.blocked" in rule_ids(d.deny)
		denied != tc.denied
	})
}

test_initiator_blocked_message_names_both if {
	inp := object.union(agent_input(agent({}), event({})), {"initiator": {"principal": "github:mallory", "agent": null, "unregistered_agent": false}})
	some v in decide_with(inp, blocked_settings).deny
	v.rule == "initiator.blocked"
	contains(v.message, "github:fixer[bot]")
	contains(v.message, "github:mallory")
}

test_initiator_blocked_off_without_a_list if {
	inp := object.union(agent_input(agent({}), event({})), {"initiator": {"principal": "github:mallory", "agent": null, "unregistered_agent": false}})
	not "initiator.blocked" in rule_ids(decide(inp).deny)
}
