# Promotion from track record. The leader evaluates
# data.agentgate.promotion.assessment for every active agent, about once an
# hour; an eligible agent is proposed for the next tier (applied at once or
# held for its owner's or an admin's confirmation, by configuration).
#
# Input (policy.PromotionInput):
#   agent   the agent: type, tier, state, created_at, ...
#   record  its track record over the last record.days days: decisions,
#           allowed, denied, held; kills and rollbacks counted in the window;
#           days_since_kill, days_since_rollback, days_since_tier_change (-1:
#           never); age_days
#   now     RFC 3339
#
# Thresholds: data.agentgate.settings.promotion[type][tier], falling back to
# the "default" row, for the agent's current tier; no row: never proposed.
package agentgate.promotion

default settings := {}

settings := data.agentgate.settings.promotion

tiers := ["new", "established", "trusted"]

agent := input.agent

record := input.record

# next is the tier above the agent's; undefined at the top.
next := tiers[i + 1] if {
	some i, t in tiers
	t == agent.tier
	i + 1 < count(tiers)
}

thresholds := settings[agent.type][agent.tier] if {
	settings[agent.type][agent.tier]
} else := settings["default"][agent.tier] if {
	settings["default"][agent.tier]
}

# criteria: every threshold with what the record shows.
criteria contains c if {
	want := thresholds.min_decisions
	c := {"name": "min_decisions", "want": want, "got": record.decisions, "met": record.decisions >= want,
		"message": sprintf("at least %d decisions in %d days (has %d)", [want, record.days, record.decisions])}
}

criteria contains c if {
	want := thresholds.max_denial_rate
	rate := denial_rate
	c := {"name": "max_denial_rate", "want": want, "got": rate, "met": rate <= want,
		"message": sprintf("a denial rate of at most %v (has %v)", [want, rate])}
}

criteria contains c if {
	want := thresholds.min_age_days
	c := {"name": "min_age_days", "want": want, "got": record.age_days, "met": record.age_days >= want,
		"message": sprintf("registered at least %d days (for %d)", [want, record.age_days])}
}

criteria contains c if {
	want := thresholds.clean_days
	got := clean_days
	c := {"name": "clean_days", "want": want, "got": got, "met": got >= want,
		"message": sprintf("no kill switch, rollback or tier change for %d days (%s)", [want, clean_text(got)])}
}

denial_rate := round((record.denied * 10000) / record.decisions) / 10000 if {
	record.decisions > 0
} else := 0

# clean_days is the days since the last kill, rollback or tier change; the
# agent's age when it had none.
clean_days := min([d |
	some d in [record.days_since_kill, record.days_since_rollback, record.days_since_tier_change, record.age_days]
	d >= 0
])

clean_text(d) := "never had one" if {
	d == record.age_days
} else := sprintf("the last %d days ago", [d])

unmet := [c.message | some c in criteria; not c.met]

# assessment is what the job reads: eligible with the tier to propose and
# the criteria behind it, or why not.
default assessment := {"eligible": false, "reasons": ["the agent is not active"], "criteria": []}

assessment := {"eligible": false, "reasons": [sprintf("tier %s is the highest", [agent.tier])], "criteria": []} if {
	agent.state == "active"
	not next
}

assessment := {"eligible": false, "reasons": [sprintf("no promotion thresholds for %s agents at tier %s (settings.promotion)", [agent.type, agent.tier])], "criteria": []} if {
	agent.state == "active"
	next
	not thresholds
}

assessment := {"eligible": count(unmet) == 0, "to": next, "reasons": reasons, "criteria": sort_criteria} if {
	agent.state == "active"
	next
	thresholds
}

reasons := unmet if {
	count(unmet) > 0
} else := [sprintf("meets every threshold for %s", [next])]

sort_criteria := [c | some name in sort([n | some x in criteria; n := x.name]); some c in criteria; c.name == name]
