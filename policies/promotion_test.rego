# Tests of promotion from track record.
package agentgate.promotion_test

import data.agentgate.promotion

coder(overrides) := object.union({"name": "pay-coder", "type": "coding", "tier": "new", "state": "active"}, overrides)

good := {
	"days": 30, "decisions": 80, "allowed": 78, "denied": 2, "held": 0, "kills": 0, "rollbacks": 0,
	"days_since_kill": -1, "days_since_rollback": -1, "days_since_tier_change": -1, "age_days": 40,
}

# thresholds the tests assume, whatever settings.promotion says, so that a
# team changing its thresholds does not break these tests.
thresholds := {
	"default": {
		"new": {"min_decisions": 50, "max_denial_rate": 0.05, "min_age_days": 14, "clean_days": 14},
		"established": {"min_decisions": 300, "max_denial_rate": 0.02, "min_age_days": 45, "clean_days": 30},
	},
	"deployment": {"new": {"min_decisions": 100, "max_denial_rate": 0.02, "min_age_days": 30, "clean_days": 30}},
}

assess(a, r) := x if {
	x := promotion.assessment with input as {"agent": a, "record": object.union(good, r), "now": "2026-12-04T12:00:00Z"}
		with data.agentgate.settings.promotion as thresholds
}

test_a_clean_busy_new_coder_is_eligible_for_established if {
	a := assess(coder({}), {})
	a.eligible
	a.to == "established"
	a.reasons == ["meets every threshold for established"]
	[c.name | some c in a.criteria] == ["clean_days", "max_denial_rate", "min_age_days", "min_decisions"]
}

# not_eligible_cases: name -> {agent, record, reason (a substring of one reason)}.
not_eligible_cases := {
	"too few decisions": {"agent": {}, "record": {"decisions": 49, "allowed": 49, "denied": 0}, "reason": "at least 50 decisions"},
	"denied too often": {"agent": {}, "record": {"decisions": 80, "denied": 5}, "reason": "denial rate of at most 0.05 (has 0.0625)"},
	"too young": {"agent": {}, "record": {"age_days": 13}, "reason": "registered at least 14 days"},
	"killed a week ago": {"agent": {}, "record": {"days_since_kill": 7}, "reason": "the last 7 days ago"},
	"rolled back yesterday": {"agent": {}, "record": {"days_since_rollback": 1}, "reason": "no kill switch, rollback or tier change for 14 days"},
	"demoted last week": {"agent": {}, "record": {"days_since_tier_change": 6}, "reason": "the last 6 days ago"},
	"suspended": {"agent": {"state": "suspended"}, "record": {}, "reason": "not active"},
	"killed": {"agent": {"state": "killed"}, "record": {}, "reason": "not active"},
	"at the top tier": {"agent": {"tier": "trusted"}, "record": {}, "reason": "tier trusted is the highest"},
	"deployment agents need more": {"agent": {"type": "deployment"}, "record": {}, "reason": "at least 100 decisions"},
	"an unknown tier has no thresholds": {"agent": {"tier": "probation"}, "record": {}, "reason": "tier probation is the highest"},
}

test_not_eligible if {
	every _, tc in not_eligible_cases {
		a := assess(coder(tc.agent), tc.record)
		not a.eligible
		some r in a.reasons
		contains(r, tc.reason)
	}
}

test_established_coder_needs_the_established_thresholds if {
	a := assess(coder({"tier": "established"}), {})
	not a.eligible
	a.to == "trusted"
	some r in a.reasons
	contains(r, "at least 300 decisions")
	b := assess(coder({"tier": "established"}), {"decisions": 400, "allowed": 400, "denied": 0, "age_days": 50})
	b.eligible
	b.to == "trusted"
}

test_a_type_without_a_row_uses_default if {
	a := assess(coder({"type": "data-pipeline"}), {})
	a.eligible
}

test_no_thresholds_no_proposal if {
	a := promotion.assessment with input as {"agent": coder({}), "record": good, "now": "2026-12-04T12:00:00Z"}
		with data.agentgate.settings.promotion as {"default": {}}
	not a.eligible
	contains(a.reasons[0], "no promotion thresholds for coding agents at tier new")
}

test_no_decisions_is_a_zero_denial_rate if {
	a := assess(coder({}), {"decisions": 0, "allowed": 0, "denied": 0})
	some c in a.criteria
	c.name == "max_denial_rate"
	c.got == 0
	c.met
}
