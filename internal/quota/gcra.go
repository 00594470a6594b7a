package quota

import (
	"time"
)

// Rate is one rate quota's parameters.
type Rate struct {
	Limit  int64
	Window time.Duration
	Cost   int64
}

// interval is the emission interval: the time one unit of quota takes to refill.
func (r Rate) interval() time.Duration {
	if r.Limit <= 0 {
		return r.Window
	}
	return r.Window / time.Duration(r.Limit)
}

// Verdict is the outcome of one GCRA step.
type Verdict struct {
	Allowed bool
	// TAT is the new theoretical arrival time to store (unchanged when denied).
	TAT time.Time
	// Used is how much of the quota is in use after the step.
	Used int64
	// RetryAfter is how long until the request would fit (denied only).
	RetryAfter time.Duration
}

// Apply runs one GCRA step for a request of r.Cost at now against the stored
// theoretical arrival time tat (zero when the quota was never used).
func Apply(r Rate, tat, now time.Time) Verdict {
	cost := r.Cost
	if cost <= 0 {
		cost = 1
	}
	if r.Limit <= 0 || cost > r.Limit {
		return Verdict{Allowed: false, TAT: tat, Used: Used(r, tat, now), RetryAfter: r.Window}
	}
	t := r.interval()
	base := tat
	if base.Before(now) {
		base = now
	}
	newTAT := base.Add(t * time.Duration(cost))
	if newTAT.Sub(now) > r.Window+tolerance(t) {
		return Verdict{Allowed: false, TAT: tat, Used: Used(r, tat, now), RetryAfter: newTAT.Sub(now) - r.Window}
	}
	return Verdict{Allowed: true, TAT: newTAT, Used: Used(r, newTAT, now)}
}

// Used returns how many units of the quota are in use at now given tat.
func Used(r Rate, tat, now time.Time) int64 {
	if !tat.After(now) || r.Limit <= 0 {
		return 0
	}
	t := r.interval()
	ahead := tat.Sub(now)
	used := int64((ahead + t - 1) / t) // ceil
	if used > r.Limit {
		used = r.Limit
	}
	return used
}

// tolerance is GCRA's delay-variation tolerance: concurrent callers take
// their timestamps before their charges are serialised, so a charge may see
// a time slightly earlier than one already applied. Up to half an emission
// interval (at most a second) of such reordering is absorbed. It can never
// admit more than the limit in a burst (limit + 1/2 units do not fit), and
// lets a refilled unit through at most that much early.
func tolerance(interval time.Duration) time.Duration {
	return min(interval/2, time.Second)
}
