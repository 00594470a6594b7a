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

// testAuditCounts checks CountAudit against a brute-force count
// over records whose times go backwards (skewedOffsets), of three outcomes
// and with records of other kinds among them, for windows over every
// boundary and several bucket sizes.
func testAuditCounts(t *testing.T, s suite) {
	st := s.open(t)
	ctx := t.Context()
	got, err := st.CountAudit(ctx, store.AuditCountQuery{Kind: audit.KindDecision, From: baseTime(), To: baseTime().Add(time.Hour), Every: time.Minute})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("counts of an empty log = %+v", got)
	}
	outcomes := []string{"allow", "deny", "approval_required"}
	type rec struct {
		at      time.Time
		outcome string
		kind    audit.Kind
		agent   string
	}
	var recs []rec
	for i, off := range skewedOffsets {
		r := decisionRecord(i, fmt.Sprintf("a%d", i%2), outcomes[i%3])
		r.Time = baseTime().Add(time.Duration(off) * time.Second)
		if i%5 == 4 {
			r.Kind = audit.KindAdminChange
		}
		must(t, st.AppendAudit(ctx, r))
		recs = append(recs, rec{r.Time, outcomes[i%3], r.Kind, r.AgentID})
	}
	sec := func(n int) time.Time { return baseTime().Add(time.Duration(n) * time.Second) }
	bruteOf := func(kind audit.Kind, agent string, from, to time.Time, every time.Duration) []store.AuditCount {
		if every == 0 {
			every = to.Sub(from)
		}
		counts := map[store.AuditCount]int64{}
		for _, r := range recs {
			if r.kind != kind || (agent != "" && r.agent != agent) || r.at.Before(from) || !r.at.Before(to) {
				continue
			}
			start := from.Add(r.at.Sub(from) / every * every)
			counts[store.AuditCount{Start: start, Outcome: r.outcome}]++
		}
		out := []store.AuditCount{}
		for k, n := range counts {
			k.Count = n
			out = append(out, k)
		}
		slices.SortFunc(out, func(a, b store.AuditCount) int {
			if c := a.Start.Compare(b.Start); c != 0 {
				return c
			}
			return strings.Compare(a.Outcome, b.Outcome)
		})
		return out
	}
	brute := func(from, to time.Time, every time.Duration) []store.AuditCount {
		return bruteOf(audit.KindDecision, "", from, to, every)
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
			got, err := st.CountAudit(ctx, store.AuditCountQuery{Kind: audit.KindDecision, From: tc.from, To: tc.to, Every: tc.every})
			must(t, err)
			if got == nil {
				got = []store.AuditCount{}
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
				got, err := st.CountAudit(ctx, store.AuditCountQuery{Kind: audit.KindDecision, From: sec(from), To: sec(to), Every: 20 * time.Second})
				must(t, err)
				if got == nil {
					got = []store.AuditCount{}
				}
				if want := brute(sec(from), sec(to), 20*time.Second); !slices.Equal(got, want) {
					t.Fatalf("[%d s, %d s) by 20 s = %+v, want %+v", from, to, got, want)
				}
			}
		}
	})
	t.Run("one agent, one kind, one bucket", func(t *testing.T) {
		for _, q := range []store.AuditCountQuery{
			{Kind: audit.KindDecision, AgentID: "a1", From: sec(-4000), To: sec(200)},
			{Kind: audit.KindDecision, AgentID: "a0", From: sec(-100), To: sec(100), Every: 30 * time.Second},
			{Kind: audit.KindAdminChange, From: sec(-4000), To: sec(200)},
			{Kind: audit.KindAdminChange, AgentID: "a0", From: sec(-4000), To: sec(200)},
			{Kind: audit.KindDecision, AgentID: "nobody", From: sec(-4000), To: sec(200)},
		} {
			got, err := st.CountAudit(ctx, q)
			must(t, err)
			if got == nil {
				got = []store.AuditCount{}
			}
			equal(t, fmt.Sprintf("counts of %+v", q), got, bruteOf(q.Kind, q.AgentID, q.From, q.To, q.Every))
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, bad := range []struct {
			name string
			q    store.AuditCountQuery
		}{
			{"empty window", store.AuditCountQuery{Kind: audit.KindDecision, From: sec(10), To: sec(10), Every: time.Minute}},
			{"reversed window", store.AuditCountQuery{Kind: audit.KindDecision, From: sec(10), To: sec(0), Every: time.Minute}},
			{"negative bucket", store.AuditCountQuery{Kind: audit.KindDecision, From: sec(0), To: sec(10), Every: -time.Minute}},
			{"no kind", store.AuditCountQuery{From: sec(0), To: sec(10), Every: time.Minute}},
		} {
			if _, err := st.CountAudit(ctx, bad.q); err == nil {
				t.Errorf("%s: no error", bad.name)
			}
		}
	})
	t.Run("newest records first taken, still in order", func(t *testing.T) {
		tests := []struct {
			name string
			q    store.AuditQuery
			want []int64
		}{
			{name: "the last three", q: store.AuditQuery{Newest: true, Limit: 3}, want: []int64{18, 19, 20}},
			{name: "the last two of one agent's decisions", q: store.AuditQuery{Newest: true, Limit: 2, AgentID: "a1", Kind: audit.KindDecision}, want: []int64{16, 18}},
			{name: "the last two in a window", q: store.AuditQuery{Newest: true, Limit: 2, From: sec(-80), To: sec(0)}, want: []int64{4, 6}},
			{name: "the first three, for comparison", q: store.AuditQuery{Limit: 3}, want: []int64{1, 2, 3}},
		}
		for _, tc := range tests {
			recs, err := st.QueryAudit(ctx, tc.q)
			must(t, err)
			var seqs []int64
			for _, r := range recs {
				seqs = append(seqs, r.Seq)
			}
			equal(t, tc.name, seqs, tc.want)
		}
	})
}
