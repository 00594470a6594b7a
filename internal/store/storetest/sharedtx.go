package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// sharedDecision is one call's writes: a delivery claimed and finished and
// an audit record, the shape of a decision.
func sharedDecision(ctx context.Context, q store.Queries, id string) error {
	now := baseTime()
	if prior, err := q.ClaimDelivery(ctx, delivery(id, now)); err != nil || prior != nil {
		return errors.Join(err, fmt.Errorf("delivery %s already claimed", id))
	}
	rec := decisionRecord(1, "a-"+id, "allow")
	rec.ID = "rec-" + id
	if err := q.AppendAudit(ctx, rec); err != nil {
		return err
	}
	return q.FinishDelivery(ctx, "github", id, []byte("allow"))
}

// claimed reports whether the delivery id was recorded.
func claimed(t *testing.T, st store.Store, id string) bool {
	t.Helper()
	probe := errors.New("probe only: roll back")
	var seen bool
	err := st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
		prior, err := q.ClaimDelivery(ctx, delivery(id, baseTime()))
		if err != nil {
			return err
		}
		seen = prior != nil
		return probe
	})
	if !errors.Is(err, probe) {
		t.Fatalf("delivery probe: %v", err)
	}
	return seen
}

// chainHolds checks the audit chain verifies and holds n records.
func chainHolds(t *testing.T, st store.Store, n int) {
	t.Helper()
	got, brk := verifyChain(t, st)
	if brk != nil || got != int64(n) {
		t.Fatalf("audit chain: %d records (break %+v), want %d intact", got, brk, n)
	}
}

// testSharedTransactions checks InSharedTx (group commit): calls that
// share a transaction behave like consecutive transactions.
func testSharedTransactions(t *testing.T, s suite) {
	t.Run("concurrent calls all commit, chain intact", func(t *testing.T) {
		st := s.open(t)
		const n = 40
		errs := make([]error, n)
		concurrently(n, func(i int) {
			errs[i] = st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				return sharedDecision(ctx, q, fmt.Sprintf("c%d", i))
			})
		})
		for i, err := range errs {
			must(t, err)
			if !claimed(t, st, fmt.Sprintf("c%d", i)) {
				t.Fatalf("call %d answered nil but its delivery is not recorded", i)
			}
		}
		chainHolds(t, st, n)
	})

	t.Run("a failing call is undone alone", func(t *testing.T) {
		st := s.open(t)
		boom := errors.New("boom")
		const n = 24
		errs := make([]error, n)
		concurrently(n, func(i int) {
			errs[i] = st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				if err := sharedDecision(ctx, q, fmt.Sprintf("f%d", i)); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom // after writing: its writes must vanish
				}
				return nil
			})
		})
		kept := 0
		for i, err := range errs {
			id := fmt.Sprintf("f%d", i)
			if i%3 == 0 {
				if !errors.Is(err, boom) || claimed(t, st, id) {
					t.Fatalf("call %d: err %v, recorded %v; want its own error and nothing kept", i, err, claimed(t, st, id))
				}
				continue
			}
			must(t, err)
			if !claimed(t, st, id) {
				t.Fatalf("call %d committed but its delivery is missing", i)
			}
			kept++
		}
		chainHolds(t, st, kept)
	})

	t.Run("a database error in one call does not abort the others", func(t *testing.T) {
		st := s.open(t)
		must(t, st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error { return sharedDecision(ctx, q, "dup") }))
		const n = 12
		errs := make([]error, n)
		concurrently(n, func(i int) {
			errs[i] = st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				if i%2 == 0 {
					// A unique violation raised by the database mid-batch.
					return q.CreateAgent(ctx, newAgent("twin", "github:twin"))
				}
				return sharedDecision(ctx, q, fmt.Sprintf("d%d", i))
			})
		})
		conflicts := 0
		for i, err := range errs {
			if i%2 == 0 {
				if err != nil {
					wantErr(t, err, store.ErrConflict)
					conflicts++
				}
				continue
			}
			must(t, err)
		}
		equal(t, "conflicting creations", conflicts, n/2-1)
		chainHolds(t, st, n/2+1)
	})

	t.Run("a decision refused as it is written is undone alone", func(t *testing.T) {
		// A decision's write goes with the next call's first statement or
		// before the commit (sqlstore's pipeline.go); one refused there (its
		// delivery was never claimed) fails alone, wherever it sits in the
		// batch, and writes nothing.
		st := s.open(t)
		const calls = 8
		bad := map[int]bool{3: true, calls - 1: true}
		errs := make([]error, calls)
		release := make(chan struct{})
		run := func(i int) {
			id := fmt.Sprintf("r%d", i)
			errs[i] = st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				if i == 0 {
					<-release // holds the committer while the others queue
				}
				if !bad[i] {
					if _, err := q.ClaimDelivery(ctx, delivery(id, baseTime())); err != nil {
						return err
					}
				}
				rec := decisionRecord(1, "a-"+id, "allow")
				rec.ID = "rec-" + id
				return q.AppendDecision(ctx, store.DecisionWrite{Record: rec, Input: []byte(id), InputAt: baseTime(),
					Delivery: &store.DeliveryKey{Provider: "github", ID: id}, Answer: answerOf})
			})
		}
		var wg sync.WaitGroup
		wg.Go(func() { run(0) })
		time.Sleep(50 * time.Millisecond)
		for i := 1; i < calls; i++ { // queued in about this order: the last ends the batch
			wg.Go(func() { run(i) })
			time.Sleep(10 * time.Millisecond)
		}
		close(release)
		wg.Wait()
		for i, err := range errs {
			if bad[i] {
				wantErr(t, err, store.ErrNotFound)
				continue
			}
			must(t, err)
			if !claimed(t, st, fmt.Sprintf("r%d", i)) {
				t.Fatalf("call %d committed but its delivery is missing", i)
			}
		}
		chainHolds(t, st, calls-len(bad))
		if n := len(inputsOf(t, st)); n != calls-len(bad) {
			t.Fatalf("%d inputs recorded, want %d", n, calls-len(bad))
		}
	})

	t.Run("calls see the writes of the calls before them", func(t *testing.T) {
		st := s.open(t)
		createAgent(t, st, newAgent("counted", "github:counted"))
		const n, limit = 30, 10
		var mu sync.Mutex
		allowed := 0
		concurrently(n, func(i int) {
			err := st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				_, ok, err := q.ChargeQuotas(ctx, "id-counted", []store.QuotaCharge{rateCharge("builds", limit, time.Hour)}, baseTime())
				if err == nil && ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				return err
			})
			must(t, err)
		})
		equal(t, "charges allowed of a limit of 10", allowed, limit)
	})

	t.Run("a panic fails its call only", func(t *testing.T) {
		st := s.open(t)
		errs := make([]error, 6)
		concurrently(len(errs), func(i int) {
			errs[i] = st.InSharedTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				if err := sharedDecision(ctx, q, fmt.Sprintf("p%d", i)); err != nil {
					return err
				}
				if i == 0 {
					panic("boom")
				}
				return nil
			})
		})
		if errs[0] == nil || !strings.Contains(errs[0].Error(), "panic") || claimed(t, st, "p0") {
			t.Fatalf("panicking call: %v", errs[0])
		}
		for i := 1; i < len(errs); i++ {
			must(t, errs[i])
		}
	})

	t.Run("fn sees the caller's values and a deadline", func(t *testing.T) {
		st := s.open(t)
		type key struct{}
		ctx := context.WithValue(t.Context(), key{}, "trace-1")
		must(t, st.InSharedTx(ctx, func(ctx context.Context, q store.Queries) error {
			if v, _ := ctx.Value(key{}).(string); v != "trace-1" {
				return fmt.Errorf("value %q, want the caller's", v)
			}
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline: a hung database would hang the call")
			}
			return nil
		}))
	})

	t.Run("a call cancelled before it runs writes nothing", func(t *testing.T) {
		st := s.open(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := st.InSharedTx(ctx, func(ctx context.Context, q store.Queries) error { return sharedDecision(ctx, q, "x") })
		wantErr(t, err, context.Canceled)
		if claimed(t, st, "x") {
			t.Fatal("a cancelled call was recorded")
		}
	})
}

// testAppendsInOneTransaction checks that appends made in one transaction
// seal after each other, also across a savepoint rolled back between them
// and with a clock that steps back (what the transaction remembers of the
// chain head must be what the log says).
func testAppendsInOneTransaction(t *testing.T, s suite) {
	st := s.open(t)
	createAgent(t, st, newAgent("twin", "github:twin"))
	must(t, st.AppendAudit(t.Context(), decisionRecord(1, "a", "allow")))
	err := st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
		for _, i := range []int{5, 2} {
			rec := decisionRecord(i, "a", "allow")
			if err := q.AppendAudit(ctx, rec); err != nil {
				return err
			}
			// A method that fails under its own savepoint.
			wantErr(t, q.CreateAgent(ctx, newAgent("twin", "github:twin")), store.ErrConflict)
		}
		return q.AppendAudit(ctx, decisionRecord(7, "a", "deny"))
	})
	must(t, err)
	chainHolds(t, st, 4)
	// The record of second 2 came after that of second 5: the window
	// [2s, 3s) must still find it.
	got, err := st.QueryAudit(t.Context(), store.AuditQuery{From: baseTime().Add(2 * time.Second), To: baseTime().Add(3 * time.Second)})
	must(t, err)
	if len(got) != 1 || got[0].ID != "rec-2" || got[0].Seq != 3 {
		t.Fatalf("window [2s, 3s): %+v, want rec-2 at seq 3", got)
	}
}
