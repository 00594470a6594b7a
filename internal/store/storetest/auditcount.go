package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// testDecisionCounts checks CountDecisions against a brute-force count
// over records whose times go backwards (skewedOffsets), of three outcomes
// and with records of other kinds among them, for windows over every
// boundary and several bucket sizes.
func testDecisionCounts(t *testing.T, s suite) {
	st := s.open(t)
	ctx := t.Context()
	got, err := st.CountDecisions(ctx, baseTime(), baseTime().Add(time.Hour), time.Minute)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("counts of an empty log = %+v", got)
	}
	outcomes := []string{"allow", "deny", "approval_required"}
	type rec struct {
		at      time.Time
		outcome string
		counted bool
	}
	var recs []rec
	for i, off := range skewedOffsets {
		r := decisionRecord(i, fmt.Sprintf("a%d", i%2), outcomes[i%3])
		r.Time = baseTime().Add(time.Duration(off) * time.Second)
		if i%5 == 4 {
			r.Kind = audit.KindAdminChange
		}
		must(t, st.AppendAudit(ctx, r))
		recs = append(recs, rec{r.Time, outcomes[i%3], r.Kind == audit.KindDecision})
	}
	sec := func(n int) time.Time { return baseTime().Add(time.Duration(n) * time.Second) }
	brute := func(from, to time.Time, every time.Duration) []store.DecisionCount {
		counts := map[store.DecisionCount]int64{}
		for _, r := range recs {
			if !r.counted || r.at.Before(from) || !r.at.Before(to) {
				continue
			}
			start := from.Add(r.at.Sub(from) / every * every)
			counts[store.DecisionCount{Start: start, Outcome: r.outcome}]++
		}
		out := []store.DecisionCount{}
		for k, n := range counts {
			k.Count = n
			out = append(out, k)
		}
		slices.SortFunc(out, func(a, b store.DecisionCount) int {
			if c := a.Start.Compare(b.Start); c != 0 {
				return c
			}
			return strings.Compare(a.Outcome, b.Outcome)
		})
		return out
	}
	tests := []struct {
		name     string
		from, to time.Time
		every    time.Duration
	}{
		{name: "everything in one bucket", from: sec(-4000), to: sec(4000), every: 8000 * time.Second},
		{name: "per minute over the skew", from: sec(-120), to: sec(180), every: time.Minute},
		{name: "per 10 s, the lagging replica only", from: sec(-75), to: sec(-55), every: 10 * time.Second},
		{name: "the clock stepped back", from: sec(-3600), to: sec(-3580), every: 5 * time.Second},
		{name: "buckets not aligned to the minute", from: sec(7), to: sec(131), every: 17 * time.Second},
		{name: "a window with nothing", from: sec(1000), to: sec(2000), every: time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.CountDecisions(ctx, tc.from, tc.to, tc.every)
			must(t, err)
			if got == nil {
				got = []store.DecisionCount{}
			}
			for i := range got {
				got[i].Start = got[i].Start.UTC()
			}
			equal(t, "decision counts", got, brute(tc.from, tc.to, tc.every))
		})
	}
	t.Run("every window over every boundary", func(t *testing.T) {
		for from := -3610; from <= 140; from += 10 {
			for to := from + 5; to <= 140; to += 25 {
				got, err := st.CountDecisions(ctx, sec(from), sec(to), 20*time.Second)
				must(t, err)
				if got == nil {
					got = []store.DecisionCount{}
				}
				if want := brute(sec(from), sec(to), 20*time.Second); !slices.Equal(got, want) {
					t.Fatalf("[%d s, %d s) by 20 s = %+v, want %+v", from, to, got, want)
				}
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, bad := range []struct {
			name     string
			from, to time.Time
			every    time.Duration
		}{
			{"empty window", sec(10), sec(10), time.Minute},
			{"reversed window", sec(10), sec(0), time.Minute},
			{"zero bucket", sec(0), sec(10), 0},
		} {
			if _, err := st.CountDecisions(ctx, bad.from, bad.to, bad.every); err == nil {
				t.Errorf("%s: no error", bad.name)
			}
		}
	})
}
