package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// inputsOf returns the recorded inputs by seq.
func inputsOf(t *testing.T, st store.Store) map[int64]string {
	t.Helper()
	got := map[int64]string{}
	must(t, st.ScanInputs(t.Context(), time.Time{}, time.Time{}, 0, func(seq int64, _ time.Time, body []byte) error {
		got[seq] = string(body)
		return nil
	}))
	return got
}

// answerOf builds a delivery answer naming the sealed record.
func answerOf(r *audit.Record) ([]byte, error) {
	return fmt.Appendf(nil, `{"decision_id":%q,"audit_seq":%d}`, r.ID, r.Seq), nil
}

// testAppendDecision checks AppendDecision: the record, its input and its
// delivery's answer are written together, with the answer built from the
// sealed record, or not at all.
func testAppendDecision(t *testing.T, s suite) {
	t.Run("record, input and answer", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		must(t, st.AppendAudit(ctx, decisionRecord(1, "a", "allow")))
		claim(t, st, "d1", now)
		rec := decisionRecord(2, "a", "allow")
		must(t, st.AppendDecision(ctx, store.DecisionWrite{Record: rec, Input: []byte("input-2"), InputAt: now,
			Delivery: &store.DeliveryKey{Provider: "github", ID: "d1"}, Answer: answerOf}))
		if rec.Seq != 2 || rec.Hash == "" {
			t.Fatalf("record not sealed: seq %d hash %q", rec.Seq, rec.Hash)
		}
		chainHolds(t, st, 2)
		equal(t, "inputs", inputsOf(t, st), map[int64]string{2: "input-2"})
		answered(t, st, "d1", now, `{"decision_id":"rec-2","audit_seq":2}`)
	})
	t.Run("each part optional", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		claim(t, st, "d3", now)
		must(t, st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(1, "a", "allow")}))
		must(t, st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(2, "a", "deny"), Input: []byte("input-2"), InputAt: now}))
		must(t, st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(3, "a", "allow"),
			Delivery: &store.DeliveryKey{Provider: "github", ID: "d3"}, Answer: answerOf}))
		chainHolds(t, st, 3)
		equal(t, "inputs", inputsOf(t, st), map[int64]string{2: "input-2"})
		answered(t, st, "d3", now, `{"decision_id":"rec-3","audit_seq":3}`)
	})
	t.Run("a delivery not claimed writes nothing", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		must(t, st.AppendAudit(ctx, decisionRecord(1, "a", "allow")))
		err := st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(2, "a", "allow"), Input: []byte("input-2"), InputAt: baseTime(),
			Delivery: &store.DeliveryKey{Provider: "github", ID: "never-claimed"}, Answer: answerOf})
		wantErr(t, err, store.ErrNotFound)
		chainHolds(t, st, 1)
		equal(t, "inputs", inputsOf(t, st), map[int64]string{})
		// The chain goes on from the head that stands.
		must(t, st.AppendAudit(ctx, decisionRecord(3, "a", "allow")))
		chainHolds(t, st, 2)
	})
	t.Run("an answer that fails writes nothing", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		claim(t, st, "d4", baseTime())
		boom := errors.New("boom")
		err := st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(1, "a", "allow"), Input: []byte("input-1"), InputAt: baseTime(),
			Delivery: &store.DeliveryKey{Provider: "github", ID: "d4"}, Answer: func(*audit.Record) ([]byte, error) { return nil, boom }})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		chainHolds(t, st, 0)
		equal(t, "inputs", inputsOf(t, st), map[int64]string{})
	})
	t.Run("in a shared transaction between appends", func(t *testing.T) {
		st := s.open(t)
		now := baseTime()
		err := st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
			if err := q.AppendAudit(ctx, decisionRecord(1, "a", "allow")); err != nil {
				return err
			}
			if _, err := q.ClaimDelivery(ctx, delivery("d5", now)); err != nil {
				return err
			}
			if err := q.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(2, "a", "allow"), Input: []byte("input-2"), InputAt: now,
				Delivery: &store.DeliveryKey{Provider: "github", ID: "d5"}, Answer: answerOf}); err != nil {
				return err
			}
			return q.AppendAudit(ctx, decisionRecord(3, "a", "deny"))
		})
		must(t, err)
		chainHolds(t, st, 3)
		equal(t, "inputs", inputsOf(t, st), map[int64]string{2: "input-2"})
	})
	t.Run("counters counted with the record", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		// Counted before, and in other windows, which must not move.
		_, err := st.IncrCounter(ctx, "requests:a", time.Minute, now)
		must(t, err)
		_, err = st.IncrCounter(ctx, "requests:a", time.Minute, now.Add(-time.Minute))
		must(t, err)
		claim(t, st, "d7", now)
		var requests, denials int64
		must(t, st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(1, "a", "deny"), Input: []byte("input-1"), InputAt: now,
			Delivery: &store.DeliveryKey{Provider: "github", ID: "d7"}, Answer: answerOf,
			Counters: []store.CounterIncr{
				{Key: "requests:a", Window: time.Minute, At: now.Add(30 * time.Second), N: &requests},
				{Key: "denials:a", Window: time.Minute, At: now.Add(30 * time.Second), N: &denials},
			}}))
		equal(t, "requests counted", requests, int64(2))
		equal(t, "denials counted", denials, int64(1))
		// Without a delivery or an input, and a counter whose count is
		// not asked for.
		must(t, st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(2, "a", "allow"),
			Counters: []store.CounterIncr{{Key: "requests:a", Window: time.Minute, At: now}}}))
		n, err := st.IncrCounter(ctx, "requests:a", time.Minute, now)
		must(t, err)
		equal(t, "requests after both", n, int64(4))
		n, err = st.IncrCounter(ctx, "requests:a", time.Minute, now.Add(-time.Minute))
		must(t, err)
		equal(t, "the previous window", n, int64(2))
		chainHolds(t, st, 2)
		answered(t, st, "d7", now, `{"decision_id":"rec-1","audit_seq":1}`)
	})
	t.Run("a write that fails counts nothing", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		var requests int64
		err := st.AppendDecision(ctx, store.DecisionWrite{Record: decisionRecord(1, "a", "allow"),
			Delivery: &store.DeliveryKey{Provider: "github", ID: "never-claimed"}, Answer: answerOf,
			Counters: []store.CounterIncr{{Key: "requests:a", Window: time.Minute, At: now, N: &requests}}})
		wantErr(t, err, store.ErrNotFound)
		equal(t, "count handed back", requests, int64(0))
		n, err := st.IncrCounter(ctx, "requests:a", time.Minute, now)
		must(t, err)
		equal(t, "requests after the failed write", n, int64(1))
		chainHolds(t, st, 0)
	})
	t.Run("invalid", func(t *testing.T) {
		st := s.open(t)
		wantKind(t, st.AppendDecision(t.Context(), store.DecisionWrite{}), apperr.KindInvalid)
		wantKind(t, st.AppendDecision(t.Context(), store.DecisionWrite{Record: decisionRecord(1, "a", "allow"),
			Delivery: &store.DeliveryKey{Provider: "github", ID: "d6"}}), apperr.KindInvalid)
		wantKind(t, st.AppendDecision(t.Context(), store.DecisionWrite{Record: decisionRecord(1, "a", "allow"),
			Counters: []store.CounterIncr{{Key: "requests:a", At: baseTime()}}}), apperr.KindInvalid)
		wantKind(t, st.AppendDecision(t.Context(), store.DecisionWrite{Record: decisionRecord(1, "a", "allow"),
			Counters: []store.CounterIncr{
				{Key: "requests:a", Window: time.Minute, At: baseTime()},
				{Key: "requests:a", Window: time.Hour, At: baseTime()},
			}}), apperr.KindInvalid)
		chainHolds(t, st, 0)
	})
}

// claim claims delivery id at now.
func claim(t *testing.T, st store.Store, id string, now time.Time) {
	t.Helper()
	prior, err := st.ClaimDelivery(t.Context(), delivery(id, now))
	must(t, err)
	if prior != nil {
		t.Fatalf("claim %s found prior %+v", id, prior)
	}
}

// answered checks that delivery id, claimed at now, was answered with want.
func answered(t *testing.T, st store.Store, id string, now time.Time, want string) {
	t.Helper()
	prior, err := st.ClaimDelivery(t.Context(), delivery(id, now.Add(time.Minute)))
	must(t, err)
	if prior == nil || string(prior.Result) != want {
		t.Fatalf("the answer of delivery %s: %+v, want %s", id, prior, want)
	}
}
