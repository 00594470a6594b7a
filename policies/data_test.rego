# Checks of the policy data this set ships (data/*.yaml), so a reload with
# edited data that the policy cannot use is rejected.
package agentgate.admission_test

modes := {"enforce", "warn", "dryrun"}

known_rules := {
	"unregistered_agent",
	"agent_inactive",
	"agent_expired",
	"scope.environment",
	"scope.production",
	"scope.namespace",
	"scope.service_account",
	"capability",
	"workflow.status_write",
	"scope.template_ref",
	"scope.cluster",
	"initiator.unregistered_agent",
	"initiator.blocked",
}

known_tiers := {"new", "established", "trusted"}

test_data_documents_are_present if {
	is_object(data.agentgate.tiers.limits)
	is_object(data.agentgate.tiers.anomaly)
	is_object(data.agentgate.settings.enforcement.rules)
	is_object(data.agentgate.settings.quotas)
	is_object(data.agentgate.settings.environments)
	is_object(data.agentgate.settings.approvals)
}

test_data_global_mode_is_valid if {
	data.agentgate.settings.enforcement.mode in modes
}

test_data_rule_modes_are_valid if {
	all_pass({rule |
		some rule, mode in data.agentgate.settings.enforcement.rules
		not valid_rule_mode(rule, mode)
	})
}

valid_rule_mode(rule, mode) if {
	rule in known_rules
	mode in modes
}

test_data_quota_shapes_are_valid if {
	all_pass({name |
		some name, shape in data.agentgate.settings.quotas
		not valid_shape(shape)
	})
}

valid_shape(shape) if {
	shape.kind == "rate"
	time.parse_duration_ns(shape.window) > 0
	object.get(shape, "cost", 1) >= 1
}

valid_shape(shape) if {
	shape.kind == "concurrency"
	time.parse_duration_ns(object.get(shape, "ttl", "24h")) > 0
	time.parse_duration_ns(object.get(shape, "deadline_grace", "0s")) >= 0
}

test_data_limits_are_whole_numbers if {
	all_pass({sprintf("%s/%s", [type, tier]) |
		some type, rows in data.agentgate.tiers.limits
		some tier, limits in rows
		not valid_limits(tier, limits)
	})
}

valid_limits(tier, limits) if {
	tier in known_tiers
	every name, limit in limits {
		name in object.keys(data.agentgate.settings.quotas)
		is_number(limit)
		limit >= 0
		limit == floor(limit)
	}
}

test_data_default_row_is_complete if {
	all_pass({tier |
		some tier in known_tiers
		object.keys(object.get(data.agentgate.tiers.limits, ["default", tier], {})) != object.keys(data.agentgate.settings.quotas)
	})
}

test_data_anomaly_thresholds_are_valid if {
	all_pass({tier |
		some tier in known_tiers
		not valid_anomaly(object.get(data.agentgate.tiers.anomaly, tier, null))
	})
}

valid_anomaly(t) if {
	is_object(t)
	every name, v in t {
		name in {"max_denials_per_minute", "max_requests_per_minute"}
		is_number(v)
		v >= 0
	}
}

# The request threshold of a tier is above every per-minute quota of the
# tier, so an agent within its quotas is never taken for a runaway.
test_data_anomaly_requests_above_quotas if {
	all_pass({sprintf("%s/%s", [type, tier]) |
		some type, rows in data.agentgate.tiers.limits
		some tier, limits in rows
		threshold := object.get(data.agentgate.tiers.anomaly, [tier, "max_requests_per_minute"], 0)
		threshold > 0
		threshold <= object.get(limits, "api_calls_per_minute", 0)
	})
}

test_data_environment_patterns_are_strings if {
	all_pass({kind |
		some kind in ["ephemeral", "production"]
		not valid_patterns(object.get(data.agentgate.settings.environments, kind, []))
	})
}

valid_patterns(patterns) if {
	count(patterns) > 0
	every p in patterns {
		is_string(p)
		p != ""
	}
}

test_data_production_tiers_are_known if {
	every _, tiers in data.agentgate.settings.production.without_approval {
		every t in tiers {
			t in known_tiers
		}
	}
}

test_data_approvals_are_valid if {
	time.parse_duration_ns(data.agentgate.settings.approvals.ttl) > 0
	count(data.agentgate.settings.approvals.default_approvers) > 0
	every _, approvers in data.agentgate.settings.approvals.approvers {
		count(approvers) > 0
		every a in approvers {
			is_string(a)
		}
	}
}

test_data_capabilities_name_event_kinds if {
	every kind, capability in data.agentgate.settings.capabilities {
		kind in {"build", "deploy", "workflow", "sync"}
		is_string(capability)
	}
}
