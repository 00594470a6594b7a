package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

func testInputs(t *testing.T, s suite) {
	st := s.open(t)
	ctx := t.Context()
	at := func(i int) time.Time { return baseTime().Add(time.Duration(i) * time.Minute) }
	for i := range 5 {
		r := decisionRecord(i, "a1", "allow")
		r.Time = at(i)
		must(t, st.AppendAudit(ctx, r))
		if i != 2 { // a decision kept without its input (recorded before inputs were)
			must(t, st.RecordInput(ctx, r.Seq, r.Time, []byte{byte(i), 0, 0xff}))
		}
	}
	scan := func(t *testing.T, from, to time.Time, after int64) []int64 {
		t.Helper()
		var seqs []int64
		must(t, st.ScanInputs(ctx, from, to, after, func(seq int64, when time.Time, body []byte) error {
			if !when.Equal(at(int(seq-1))) || !bytes.Equal(body, []byte{byte(seq - 1), 0, 0xff}) {
				return fmt.Errorf("input %d read back as %s %v", seq, when, body)
			}
			seqs = append(seqs, seq)
			return nil
		}))
		return seqs
	}
	tests := []struct {
		name     string
		from, to time.Time
		after    int64
		want     []int64
	}{
		{name: "all", want: []int64{1, 2, 4, 5}},
		{name: "a window", from: at(1), to: at(4), want: []int64{2, 4}},
		{name: "a narrow window", from: at(1), to: at(2), want: []int64{2}},
		{name: "from only", from: at(3), want: []int64{4, 5}},
		{name: "after a seq", after: 2, want: []int64{4, 5}},
		{name: "a window with nothing", from: at(10), to: at(20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { equal(t, "inputs", scan(t, tc.from, tc.to, tc.after), tc.want) })
	}
	t.Run("fn's error stops the scan", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := st.ScanInputs(ctx, time.Time{}, time.Time{}, 0, func(int64, time.Time, []byte) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("scan = %v after %d", err, n)
		}
	})
	t.Run("one input per decision", func(t *testing.T) {
		if err := st.RecordInput(ctx, 1, at(0), []byte{1}); err == nil {
			t.Fatal("a second input for seq 1 was stored")
		}
	})
	t.Run("purge in batches", func(t *testing.T) {
		n, err := st.PurgeInputs(ctx, at(4), 2)
		must(t, err)
		if n != 2 {
			t.Fatalf("first batch purged %d, want 2", n)
		}
		n, err = st.PurgeInputs(ctx, at(4), 2)
		must(t, err)
		if n != 1 {
			t.Fatalf("second batch purged %d, want 1", n)
		}
		equal(t, "inputs after purging", scan(t, time.Time{}, time.Time{}, 0), []int64{5})
	})
	t.Run("purge past a lagging clock", func(t *testing.T) {
		// Inputs are purged in seq order up to the audit log's time bound:
		// one recorded late by a replica whose clock lags is purged by its
		// own time, and a newer one before it is kept.
		ls := s.open(t)
		for i, m := range []int{0, 6, 2, 7} { // minutes; seq 3 lags seq 2
			r := decisionRecord(i, "a1", "allow")
			r.Time = at(m)
			must(t, ls.AppendAudit(ctx, r))
			must(t, ls.RecordInput(ctx, r.Seq, r.Time, []byte{byte(i)}))
		}
		n, err := ls.PurgeInputs(ctx, at(5), 10)
		must(t, err)
		var left []int64
		must(t, ls.ScanInputs(ctx, time.Time{}, time.Time{}, 0, func(seq int64, _ time.Time, _ []byte) error {
			left = append(left, seq)
			return nil
		}))
		if n != 2 {
			t.Errorf("purged %d, want 2", n)
		}
		equal(t, "inputs after purging", left, []int64{2, 4})
		n, err = ls.PurgeInputs(ctx, at(60), 10)
		must(t, err)
		if n != 2 {
			t.Errorf("purged %d past the end of the log, want 2", n)
		}
	})
	t.Run("pages", func(t *testing.T) {
		ps := s.open(t)
		must(t, ps.InTx(ctx, func(ctx context.Context, q store.Queries) error {
			for i := range 1203 {
				if err := q.RecordInput(ctx, int64(i+1), at(i), []byte{byte(i)}); err != nil {
					return err
				}
			}
			return nil
		}))
		n := 0
		must(t, ps.ScanInputs(ctx, time.Time{}, time.Time{}, 0, func(seq int64, _ time.Time, _ []byte) error {
			n++
			if seq != int64(n) {
				return fmt.Errorf("input %d came %dth", seq, n)
			}
			return nil
		}))
		if n != 1203 {
			t.Fatalf("scanned %d of 1203", n)
		}
	})
}
