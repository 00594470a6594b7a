package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// testAuditTimeWindows checks that time-bounded audit queries are exact
// when the writers' clocks disagree: records appended in chain order whose
// times go backwards (a replica whose clock lags, a clock stepped back)
// must be found by every window that holds them, and no other.
func testAuditTimeWindows(t *testing.T, s suite) {
	st := s.open(t)
	times := appendSkewed(t, st, 0)
	checkWindows(t, st, times)
}

// skewedOffsets are record times in seconds from baseTime, in append
// order: two replicas 90 s apart, equal times, then a clock stepped back
// an hour and caught up again.
var skewedOffsets = []int{
	0, 10, 20, -70, 30, -60, 40, 50, // replica B lags by 90 s
	60, 70, 70, 70, 80, // equal times
	-3600, -3590, // a clock stepped back an hour
	90, 100, 110, 120, 130,
}

// appendSkewed appends one record per skewedOffsets entry, shifted by
// shift seconds, to agents a0 and a1 in turn, and returns their times.
func appendSkewed(t *testing.T, st store.Store, shift int) []time.Time {
	t.Helper()
	var times []time.Time
	for i, off := range skewedOffsets {
		r := decisionRecord(i, fmt.Sprintf("a%d", i%2), "allow")
		r.Time = baseTime().Add(time.Duration(off+shift) * time.Second)
		must(t, st.AppendAudit(t.Context(), r))
		times = append(times, r.Time)
	}
	return times
}

// checkWindows checks time-bounded queries of st, whose records seq 1.. have
// the given times, against a brute-force filter.
func checkWindows(t *testing.T, st store.Store, times []time.Time) {
	ctx := t.Context()
	sec := func(n int) time.Time { return baseTime().Add(time.Duration(n) * time.Second) }
	want := func(from, to time.Time, agent string) []int64 {
		var seqs []int64
		for i, at := range times {
			if (from.IsZero() || !at.Before(from)) && (to.IsZero() || at.Before(to)) &&
				(agent == "" || agent == fmt.Sprintf("a%d", i%len(skewedOffsets)%2)) {
				seqs = append(seqs, int64(i+1))
			}
		}
		return seqs
	}
	query := func(t *testing.T, q store.AuditQuery) []int64 {
		t.Helper()
		recs, err := st.QueryAudit(ctx, q)
		must(t, err)
		var seqs []int64
		for _, r := range recs {
			seqs = append(seqs, r.Seq)
		}
		return seqs
	}

	if len(times) == len(skewedOffsets) {
		tests := []struct {
			name     string
			from, to time.Time
			agent    string
			after    int64
			want     []int64
		}{
			{name: "from finds a lagging record written after newer ones", from: sec(-70), to: sec(-60), want: []int64{4}},
			{name: "to finds lagging records written after the bound", from: sec(-80), to: sec(0), want: []int64{4, 6}},
			{name: "only to, before every record but the stepped-back ones", to: sec(-3000), want: []int64{14, 15}},
			{name: "window inside the stepped-back hour", from: sec(-3595), to: sec(-3580), want: []int64{15}},
			{name: "equal times, from inclusive", from: sec(70), to: sec(71), want: []int64{10, 11, 12}},
			{name: "equal times, to exclusive", from: sec(60), to: sec(70), want: []int64{9}},
			{name: "from after the last record", from: sec(131)},
			{name: "to before the first record", to: sec(-4000)},
			{name: "only from, the tail", from: sec(110), want: []int64{18, 19, 20}},
			{name: "window and agent", from: sec(-80), to: sec(50), agent: "a1", want: []int64{2, 4, 6}},
			{name: "window and cursor", from: sec(-80), to: sec(50), after: 4, want: []int64{5, 6, 7}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if brute := want(tc.from, tc.to, tc.agent); tc.after == 0 && !equalSeqs(brute, tc.want) {
					t.Fatalf("test case is wrong: brute force gives %v", brute)
				}
				got := query(t, store.AuditQuery{From: tc.from, To: tc.to, AgentID: tc.agent, AfterSeq: tc.after})
				equal(t, "seqs", got, tc.want)
			})
		}
	}

	t.Run("every window of every boundary", func(t *testing.T) {
		// A record's own time and the next microsecond are both sides of
		// each inclusive From and exclusive To edge.
		seen := map[time.Time]bool{}
		bounds := []time.Time{{}}
		for _, at := range times {
			for _, b := range []time.Time{at, at.Add(time.Microsecond)} {
				if !seen[b] {
					seen[b] = true
					bounds = append(bounds, b)
				}
			}
		}
		for _, from := range bounds {
			for _, to := range bounds {
				got := query(t, store.AuditQuery{From: from, To: to, Limit: 1000})
				if w := want(from, to, ""); !equalSeqs(got, w) {
					t.Fatalf("from %v to %v: got %v, want %v", from, to, got, w)
				}
			}
		}
	})
}

// AuditTimeBoundsMigration checks the migration that adds the audit log's
// time-bound columns on a log written before it: reopen opens the same
// database each time, and exec (RunOptions.Exec) takes it back to the
// schema before that migration. After the upgrade, time windows over the
// old records and over records appended since are exact.
func AuditTimeBoundsMigration(t *testing.T, reopen func(t *testing.T) store.Store, exec func(s store.Store, query string, args ...any) error) {
	st := reopen(t)
	times := appendSkewed(t, st, 0)
	for _, q := range []string{
		`DROP INDEX audit_log_mono`,
		`DROP INDEX audit_log_provider`,
		`ALTER TABLE audit_log DROP COLUMN at_mono_us`,
		`ALTER TABLE audit_log DROP COLUMN lag_max_us`,
		`CREATE INDEX audit_log_at ON audit_log (at_us)`,
		`DELETE FROM schema_migrations WHERE version = 9`,
	} {
		if err := exec(st, q); err != nil {
			t.Fatalf("back to the schema before the migration: %s: %v", q, err)
		}
	}
	upgraded := reopen(t)
	t.Run("old records", func(t *testing.T) { checkWindows(t, upgraded, times) })
	times = append(times, appendSkewed(t, upgraded, -30)...)
	t.Run("old and new records", func(t *testing.T) { checkWindows(t, upgraded, times) })
	if n, brk := verifyChain(t, upgraded); brk != nil || n != int64(len(times)) {
		t.Fatalf("verified %d of %d, break %+v", n, len(times), brk)
	}
}

func equalSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
