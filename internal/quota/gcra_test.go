package quota

import (
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	hourly := Rate{Limit: 20, Window: time.Hour, Cost: 1}
	tests := []struct {
		name        string
		rate        Rate
		requests    int
		spacing     time.Duration
		wantAllowed int
	}{
		{name: "burst admits exactly the limit", rate: hourly, requests: 25, wantAllowed: 20},
		{name: "spaced at the refill interval never runs out", rate: hourly, requests: 60, spacing: 3 * time.Minute, wantAllowed: 60},
		{name: "cost two halves the burst", rate: Rate{Limit: 10, Window: time.Minute, Cost: 2}, requests: 8, wantAllowed: 5},
		{name: "zero limit admits nothing", rate: Rate{Limit: 0, Window: time.Hour}, requests: 3, wantAllowed: 0},
		{name: "cost above limit admits nothing", rate: Rate{Limit: 1, Window: time.Hour, Cost: 2}, requests: 1, wantAllowed: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tat time.Time
			allowed := 0
			at := now
			for i := 0; i < tc.requests; i++ {
				v := Apply(tc.rate, tat, at)
				if v.Allowed {
					allowed++
					tat = v.TAT
				} else if v.TAT != tat {
					t.Fatalf("denied step changed TAT")
				}
				at = at.Add(tc.spacing)
			}
			if allowed != tc.wantAllowed {
				t.Fatalf("allowed %d, want %d", allowed, tc.wantAllowed)
			}
		})
	}
}

func TestUsedAndRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := Rate{Limit: 20, Window: time.Hour, Cost: 1}
	var tat time.Time
	for i := 0; i < 20; i++ {
		v := Apply(r, tat, now)
		tat = v.TAT
		if v.Used != int64(i+1) {
			t.Fatalf("after %d requests used=%d", i+1, v.Used)
		}
	}
	v := Apply(r, tat, now)
	if v.Allowed || v.RetryAfter != 3*time.Minute {
		t.Fatalf("21st: allowed=%v retry=%v, want denied and 3m", v.Allowed, v.RetryAfter)
	}
	if got := Used(r, tat, now.Add(30*time.Minute)); got != 10 {
		t.Fatalf("half an hour later used=%d, want 10", got)
	}
	if got := Used(r, tat, now.Add(2*time.Hour)); got != 0 {
		t.Fatalf("two hours later used=%d, want 0", got)
	}
}

// TestOutOfOrderStamps: concurrent requests take their timestamps before
// their charges are serialised, so the first charge may carry the latest
// stamp. The whole burst is still admitted, and never more.
func TestOutOfOrderStamps(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []Rate{{Limit: 20, Window: time.Hour, Cost: 1}, {Limit: 500, Window: time.Minute, Cost: 1}} {
		var tat time.Time
		allowed := 0
		for i := 0; i < int(r.Limit)+10; i++ {
			at := now.Add(-3 * time.Millisecond) // stamped before the first charge...
			if i == 0 {
				at = now // ...which carries the latest stamp
			}
			if v := Apply(r, tat, at); v.Allowed {
				allowed++
				tat = v.TAT
			}
		}
		if int64(allowed) != r.Limit {
			t.Fatalf("%d per %s: %d admitted, want exactly %d", r.Limit, r.Window, allowed, r.Limit)
		}
	}
}
