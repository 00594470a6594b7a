package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

func testAudit(t *testing.T, s suite) {
	t.Run("append seals a chain", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		head, err := st.AuditHead(ctx)
		must(t, err)
		equal(t, "head of an empty log", head, int64(0))
		var recs []*audit.Record
		for i := range 3 {
			r := decisionRecord(i, "a1", "allow")
			r.Time = r.Time.Add(123 * time.Nanosecond).In(time.FixedZone("X", 3600))
			must(t, st.AppendAudit(ctx, r))
			recs = append(recs, r)
		}
		prev := audit.GenesisHash
		for i, r := range recs {
			if r.Seq != int64(i+1) || r.PrevHash != prev || r.Hash == "" {
				t.Fatalf("record %d: seq=%d prev=%s hash=%q", i, r.Seq, r.PrevHash, r.Hash)
			}
			if r.Time.Location() != time.UTC || r.Time.Nanosecond()%1000 != 0 {
				t.Fatalf("record %d time not normalised: %v", i, r.Time)
			}
			prev = r.Hash
		}
		head, err = st.AuditHead(ctx)
		must(t, err)
		equal(t, "head", head, int64(3))
		got, err := st.QueryAudit(ctx, store.AuditQuery{})
		must(t, err)
		want := make([]audit.Record, len(recs))
		for i, r := range recs {
			want[i] = *r
		}
		equal(t, "stored records", got, want)
		n, brk := verifyChain(t, st)
		if brk != nil || n != 3 {
			t.Fatalf("verified %d, break %+v", n, brk)
		}
	})

	t.Run("query filters", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		specs := []struct {
			agent, outcome, provider string
			kind                     audit.Kind
		}{
			{"a1", "allow", "github", audit.KindDecision},
			{"a2", "deny", "github", audit.KindDecision},
			{"a1", "deny", "gitlab", audit.KindDecision},
			{"a1", "", "", audit.KindKill},
			{"a2", "allow", "gitlab", audit.KindDecision},
		}
		for i, sp := range specs {
			r := decisionRecord(i, sp.agent, sp.outcome)
			r.Provider, r.Kind = sp.provider, sp.kind
			if sp.outcome == "" {
				r.Decision = nil
			}
			must(t, st.AppendAudit(ctx, r))
		}
		base := baseTime()
		tests := []struct {
			name  string
			query store.AuditQuery
			want  []int64
		}{
			{name: "all", want: []int64{1, 2, 3, 4, 5}},
			{name: "agent", query: store.AuditQuery{AgentID: "a1"}, want: []int64{1, 3, 4}},
			{name: "owner", query: store.AuditQuery{Owner: "team-a2"}, want: []int64{2, 5}},
			{name: "outcome", query: store.AuditQuery{Outcome: "deny"}, want: []int64{2, 3}},
			{name: "provider", query: store.AuditQuery{Provider: "gitlab"}, want: []int64{3, 5}},
			{name: "kind", query: store.AuditQuery{Kind: audit.KindKill}, want: []int64{4}},
			{name: "from inclusive to exclusive", query: store.AuditQuery{From: base.Add(time.Second), To: base.Add(3 * time.Second)}, want: []int64{2, 3}},
			{name: "after cursor", query: store.AuditQuery{AfterSeq: 3}, want: []int64{4, 5}},
			{name: "limit", query: store.AuditQuery{Limit: 2}, want: []int64{1, 2}},
			{name: "cursor and limit", query: store.AuditQuery{AfterSeq: 1, Limit: 2, AgentID: "a1"}, want: []int64{3, 4}},
			{name: "combined", query: store.AuditQuery{AgentID: "a1", Outcome: "deny", Provider: "gitlab"}, want: []int64{3}},
			{name: "no match", query: store.AuditQuery{AgentID: "nobody"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				recs, err := st.QueryAudit(ctx, tc.query)
				must(t, err)
				var seqs []int64
				for _, r := range recs {
					seqs = append(seqs, r.Seq)
				}
				equal(t, "seqs", seqs, tc.want)
			})
		}
	})

	t.Run("scan pages through a long log in order", func(t *testing.T) {
		st := s.open(t)
		const n = 1103 // more than two pages of any sensible size
		must(t, st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
			for i := range n {
				if err := q.AppendAudit(ctx, decisionRecord(i, "a1", "allow")); err != nil {
					return err
				}
			}
			return nil
		}))
		checked, brk := verifyChain(t, st)
		if brk != nil || checked != n {
			t.Fatalf("verified %d of %d, break %+v", checked, n, brk)
		}
		var seqs []int64
		must(t, st.ScanAudit(t.Context(), n-3, func(s audit.Stored) error {
			seqs = append(seqs, s.Seq)
			return nil
		}))
		equal(t, "scan after a cursor", seqs, []int64{n - 2, n - 1, n})
		recs, err := st.QueryAudit(t.Context(), store.AuditQuery{Limit: 5000})
		must(t, err)
		equal(t, "query limit is capped", len(recs), 1000)
		recs, err = st.QueryAudit(t.Context(), store.AuditQuery{})
		must(t, err)
		equal(t, "default query limit", len(recs), 100)
	})

	t.Run("scan stops at the callback's error", func(t *testing.T) {
		st := s.open(t)
		for i := range 3 {
			must(t, st.AppendAudit(t.Context(), decisionRecord(i, "a1", "allow")))
		}
		stop := errors.New("stop")
		calls := 0
		err := st.ScanAudit(t.Context(), 0, func(audit.Stored) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("err=%v after %d calls, want stop after 1", err, calls)
		}
	})

	t.Run("concurrent appends form one intact chain", func(t *testing.T) {
		st := s.open(t)
		const writers = 30
		var mu sync.Mutex
		seen := map[int64]bool{}
		concurrently(writers, func(i int) {
			r := decisionRecord(i, fmt.Sprintf("a%d", i%3), "allow")
			err := st.AppendAudit(t.Context(), r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("append %d: %v", i, err)
				return
			}
			if seen[r.Seq] {
				t.Errorf("sequence %d handed out twice", r.Seq)
			}
			seen[r.Seq] = true
		})
		checked, brk := verifyChain(t, st)
		if brk != nil || checked != writers {
			t.Fatalf("verified %d of %d, break %+v", checked, writers, brk)
		}
	})
}

func testAuditTamper(t *testing.T, s suite) {
	if s.opts.Exec == nil {
		t.Skip("backend gives no raw SQL access (RunOptions.Exec)")
	}
	tests := []struct {
		name  string
		query string
		args  []any
		// rechain rewrites record 2 with a hash matching its new body,
		// passing body, hash and seq as the arguments.
		rechain bool
		wantSeq int64
	}{
		{name: "edited body", query: `UPDATE audit_log SET body = REPLACE(body, '"allow"', '"deny"') WHERE seq = $1`, args: []any{int64(2)}, wantSeq: 2},
		{name: "edited body with recomputed hash", query: `UPDATE audit_log SET body = $1, hash = $2 WHERE seq = $3`, rechain: true, wantSeq: 3},
		{name: "deleted record", query: `DELETE FROM audit_log WHERE seq = $1`, args: []any{int64(2)}, wantSeq: 2},
		{name: "moved record", query: `UPDATE audit_log SET seq = 9 WHERE seq = $1`, args: []any{int64(1)}, wantSeq: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.open(t)
			for i := range 4 {
				must(t, st.AppendAudit(t.Context(), decisionRecord(i, "a1", "allow")))
			}
			if n, brk := verifyChain(t, st); brk != nil || n != 4 {
				t.Fatalf("before tampering: verified %d, break %+v", n, brk)
			}
			args := tc.args
			if tc.rechain {
				recs, err := st.QueryAudit(t.Context(), store.AuditQuery{AfterSeq: 1, Limit: 1})
				must(t, err)
				r := recs[0]
				r.Decision.Outcome = "deny"
				body, err := audit.Seal(&r, 1, r.PrevHash)
				must(t, err)
				args = []any{string(body), r.Hash, int64(2)}
			}
			must(t, s.opts.Exec(st, tc.query, args...))
			checked, brk := verifyChain(t, st)
			if brk == nil || brk.Seq != tc.wantSeq {
				t.Fatalf("break %+v after %d verified, want a break at %d", brk, checked, tc.wantSeq)
			}
		})
	}
}
