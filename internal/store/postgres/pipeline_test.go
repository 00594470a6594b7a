package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/postgres"
	"github.com/agentgate/agentgate/internal/store/storetest"
)

// A quota charge is written with the transaction's next round trip
// (sqlstore's pipeline.go). PostgreSQL refuses a NUL in text, so a lease
// key holding one passes the charge's reads and fails only its write: the
// write's failure must fail the transaction however the write is sent, and
// nothing of the transaction may commit.

// badLease is a concurrency charge whose lease write PostgreSQL refuses.
var badLease = store.QuotaCharge{Name: "concurrent_environments", Concurrency: true, Limit: 2, Key: "env\x00x", TTL: time.Hour}

func TestPipelinedWriteFailureFailsItsTransaction(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		// next runs after the charge, in the same transaction.
		next func(ctx context.Context, q store.Queries) error
	}{
		{"carried by a pipelined statement", func(ctx context.Context, q store.Queries) error {
			_, err := q.IncrCounter(ctx, "requests:a2", time.Minute, now)
			return err
		}},
		{"carried before a single-row query", func(ctx context.Context, q store.Queries) error {
			_, err := q.GetAgent(ctx, "nobody")
			if errors.Is(err, store.ErrNotFound) {
				return nil // the agent's absence answered: the write was lost
			}
			return err
		}},
		{"carried before a statement", func(ctx context.Context, q store.Queries) error {
			return q.RecordInput(ctx, 42, now, []byte("input"))
		}},
		{"carried before a query whose caller ignores its error", func(ctx context.Context, q store.Queries) error {
			_, _ = q.GetAgent(ctx, "nobody")
			return nil
		}},
		{"carried by the commit", func(context.Context, store.Queries) error { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openDSN(t, newSchema(t))
			ctx := context.Background()
			err := s.InTx(ctx, func(ctx context.Context, q store.Queries) error {
				if _, err := q.IncrCounter(ctx, "requests:a1", time.Minute, now); err != nil {
					return fmt.Errorf("count before the charge: %w", err)
				}
				if _, ok, err := q.ChargeQuotas(ctx, "a1", []store.QuotaCharge{badLease}, now); err != nil || !ok {
					return fmt.Errorf("charge: ok %v, %w", ok, err)
				}
				return tc.next(ctx, q)
			})
			if err == nil {
				t.Fatal("the transaction committed although its lease write failed")
			}
			if !strings.Contains(err.Error(), `store leases of "a1"`) {
				t.Errorf("error %q does not name the failed write", err)
			}
			assertNothingCommitted(t, s, now)
		})
	}
}

// assertNothingCommitted checks that a1's counter and lease are not there.
func assertNothingCommitted(t *testing.T, s store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	if n, err := s.IncrCounter(ctx, "requests:a1", time.Minute, now); err != nil || n != 1 {
		t.Errorf("counter after the failed transaction: %d, %v; want 1 (its increment rolled back)", n, err)
	}
	if ls, err := s.Leases(ctx, store.LeaseFilter{Name: badLease.Name}, now); err != nil || len(ls) != 0 {
		t.Errorf("leases after the failed transaction: %v, %v; want none", ls, err)
	}
}

// In a shared transaction the call whose write fails gets the error and
// the calls batched with it still commit, also when that call ends the
// batch with its write still to send.
func TestPipelinedWriteFailureInSharedTx(t *testing.T) {
	s := openDSN(t, newSchema(t))
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	const calls, bad = 12, 11
	errs := make([]error, calls)
	release := make(chan struct{})
	run := func(i int) {
		agent := fmt.Sprintf("a%d", i)
		errs[i] = s.InSharedTx(ctx, func(ctx context.Context, q store.Queries) error {
			if i == 0 {
				<-release // holds the committer while the others queue
			}
			if _, err := q.IncrCounter(ctx, "requests:"+agent, time.Minute, now); err != nil {
				return err
			}
			// The charge last: its write is still to send when the call
			// returns.
			charge := store.QuotaCharge{Name: "builds_per_hour", Limit: 20, Window: time.Hour, Cost: 1}
			if i == bad {
				charge = badLease
			}
			if _, ok, err := q.ChargeQuotas(ctx, agent, []store.QuotaCharge{charge}, now); err != nil || !ok {
				return fmt.Errorf("charge: ok %v, %w", ok, err)
			}
			return nil
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() { run(0) })
	time.Sleep(50 * time.Millisecond)
	for i := 1; i < bad; i++ {
		wg.Go(func() { run(i) })
	}
	// The bad call queues last, so that it ends the next batch (the order
	// is not guaranteed; the outcome must be the same in any order).
	time.Sleep(100 * time.Millisecond)
	wg.Go(func() { run(bad) })
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, err := range errs {
		n, cerr := s.IncrCounter(ctx, fmt.Sprintf("requests:a%d", i), time.Minute, now)
		if cerr != nil {
			t.Fatalf("count a%d: %v", i, cerr)
		}
		switch {
		case i == bad && err == nil:
			t.Errorf("call %d committed although its lease write failed", i)
		case i == bad && n != 1:
			t.Errorf("call %d's counter is %d after it failed; want its increment rolled back", i, n-1)
		case i != bad && err != nil:
			t.Errorf("call %d failed with the call whose write failed: %v", i, err)
		case i != bad && n != 2:
			t.Errorf("call %d's counter: %d after it committed; want 1", i, n-1)
		}
	}
}

// A transaction begins with its first statement and commits with its
// last round trip (sqlstore's pipetx.go): what it leaves behind must be a
// connection outside any transaction, whatever happened in it.
func TestPipelinedTransactionEnds(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	errBoom := errors.New("boom")
	cases := []struct {
		name string
		// fn is the transaction's work; its context can be cancelled
		// with cancelOf.
		fn      func(ctx context.Context, q store.Queries) error
		wantErr string
	}{
		{name: "an empty transaction commits", fn: func(context.Context, store.Queries) error { return nil }},
		{name: "an error rolls back", fn: func(ctx context.Context, q store.Queries) error {
			if _, err := q.IncrCounter(ctx, "requests:a1", time.Minute, now); err != nil {
				return err
			}
			return errBoom
		}, wantErr: "boom"},
		{name: "a failed statement whose error is ignored fails the commit", fn: func(ctx context.Context, q store.Queries) error {
			if _, err := q.IncrCounter(ctx, "requests:a1", time.Minute, now); err != nil {
				return err
			}
			_, _ = q.IncrCounter(ctx, "bad\x00key", time.Minute, now)
			return nil
		}, wantErr: "rolled back at commit"},
		{name: "a context that ends mid-transaction", fn: func(ctx context.Context, q store.Queries) error {
			if _, err := q.IncrCounter(ctx, "requests:a1", time.Minute, now); err != nil {
				return err
			}
			cancelOf(ctx)()
			_, err := q.IncrCounter(ctx, "requests:a2", time.Minute, now)
			return err
		}, wantErr: "context canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// One connection: the next transaction gets the one this one
			// left behind.
			dsn := newSchema(t)
			s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, MaxConns: 1})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			err = s.InTx(withCancel(context.Background()), func(ctx context.Context, q store.Queries) error { return tc.fn(ctx, q) })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("InTx: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("InTx: %v; want an error saying %q", err, tc.wantErr)
			}
			// The counter of a failed transaction was not kept, and the
			// connection is usable and in no transaction: what it writes
			// now is committed, as another replica sees.
			n, err := s.IncrCounter(context.Background(), "requests:a1", time.Minute, now)
			if err != nil || n != 1 {
				t.Fatalf("counter after the transaction: %d, %v; want 1", n, err)
			}
			other := openDSN(t, dsn)
			if n, err := other.IncrCounter(context.Background(), "requests:a1", time.Minute, now); err != nil || n != 2 {
				t.Fatalf("counter seen by another store: %d, %v; want 2 (the write after the transaction committed)", n, err)
			}
		})
	}
}

// cancelKey carries a context's cancel function to the transaction's work.
type cancelKey struct{}

// withCancel makes ctx cancellable from inside the transaction (cancelOf).
func withCancel(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	return context.WithValue(ctx, cancelKey{}, cancel)
}

// cancelOf returns the cancel function withCancel put in ctx.
func cancelOf(ctx context.Context) context.CancelFunc {
	return ctx.Value(cancelKey{}).(context.CancelFunc)
}

// Two replicas charging one agent as decisions do (prepared with the
// claim, in their own shared transactions) admit exactly the limit.
func TestPreparedChargesExactAcrossReplicas(t *testing.T) {
	dsn := newSchema(t)
	replicas := []store.Store{openDSN(t, dsn), openDSN(t, dsn)}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	const calls, limit = 60, 9
	charge := []store.QuotaCharge{{Name: "builds_per_hour", Limit: limit, Window: time.Hour, Cost: 1}}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range calls {
		wg.Go(func() {
			<-start
			ok, err := storetest.ChargePrepared(context.Background(), replicas[i%2].InSharedTx, i, charge, now)
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			if ok { // the run that committed
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed != limit {
		t.Fatalf("%d charges admitted across two replicas, want %d", allowed, limit)
	}
}
