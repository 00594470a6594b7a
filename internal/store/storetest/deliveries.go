package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

func delivery(id string, at time.Time) store.Delivery {
	return store.Delivery{Provider: "github", ID: id, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
}

func testDeliveries(t *testing.T, s suite) {
	t.Run("claim, duplicate, finish, expire", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		prior, err := st.ClaimDelivery(ctx, delivery("d1", now))
		must(t, err)
		if prior != nil {
			t.Fatalf("first claim found prior %+v", prior)
		}
		prior, err = st.ClaimDelivery(ctx, delivery("d1", now.Add(time.Minute)))
		must(t, err)
		equal(t, "prior while processing", prior, &store.Delivery{Provider: "github", ID: "d1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		must(t, st.FinishDelivery(ctx, "github", "d1", []byte(`{"decision":"allow"}`)))
		prior, err = st.ClaimDelivery(ctx, delivery("d1", now.Add(2*time.Minute)))
		must(t, err)
		if prior == nil || string(prior.Result) != `{"decision":"allow"}` {
			t.Fatalf("prior after finish = %+v", prior)
		}
		// The same id from another provider is another delivery.
		other := delivery("d1", now)
		other.Provider = "gitlab"
		prior, err = st.ClaimDelivery(ctx, other)
		must(t, err)
		if prior != nil {
			t.Fatalf("claim for another provider found prior %+v", prior)
		}
		// Once expired, the key can be claimed again.
		prior, err = st.ClaimDelivery(ctx, delivery("d1", now.Add(time.Hour)))
		must(t, err)
		if prior != nil {
			t.Fatalf("claim after expiry found prior %+v", prior)
		}
		// The new claim replaced the expired one, answer and times alike.
		prior, err = st.ClaimDelivery(ctx, delivery("d1", now.Add(time.Hour+time.Minute)))
		must(t, err)
		equal(t, "prior of the claim after expiry", prior,
			&store.Delivery{Provider: "github", ID: "d1", CreatedAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)})
		wantErr(t, st.FinishDelivery(ctx, "github", "missing", []byte("x")), store.ErrNotFound)
	})

	t.Run("done only once finished and until it expires", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		done := func(provider, id string, at time.Time) bool {
			t.Helper()
			ok, err := st.DeliveryDone(ctx, provider, id, at)
			must(t, err)
			return ok
		}
		if done("github", "d1", now) {
			t.Fatal("an unknown delivery is done")
		}
		_, err := st.ClaimDelivery(ctx, delivery("d1", now))
		must(t, err)
		if done("github", "d1", now) {
			t.Fatal("a claimed, unfinished delivery is done")
		}
		must(t, st.FinishDelivery(ctx, "github", "d1", []byte(`{"decision":"allow"}`)))
		if !done("github", "d1", now.Add(time.Minute)) {
			t.Fatal("a finished delivery is not done")
		}
		if done("gitlab", "d1", now) {
			t.Fatal("another provider's delivery with the id is done")
		}
		if done("github", "d1", now.Add(time.Hour)) {
			t.Fatal("an expired delivery is done")
		}
	})

	t.Run("purge deletes expired deliveries", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		for i, at := range []time.Duration{0, 10 * time.Minute, 2 * time.Hour} {
			_, err := st.ClaimDelivery(ctx, delivery(fmt.Sprint(i), now.Add(at)))
			must(t, err)
		}
		n, err := st.PurgeDeliveries(ctx, now.Add(90*time.Minute))
		must(t, err)
		equal(t, "purged", n, int64(2))
		prior, err := st.ClaimDelivery(ctx, delivery("2", now.Add(2*time.Hour+time.Minute)))
		must(t, err)
		if prior == nil {
			t.Fatal("purge deleted an unexpired delivery")
		}
	})

	t.Run("concurrent claims in transactions: exactly one claims", func(t *testing.T) {
		st := s.open(t)
		const claimers = 12
		now := baseTime()
		var claimed atomic.Int64
		priors := make(chan *store.Delivery, claimers)
		errs := make(chan error, claimers)
		concurrently(claimers, func(i int) {
			err := st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				prior, err := q.ClaimDelivery(ctx, delivery("same", now))
				if err != nil {
					return err
				}
				if prior != nil {
					priors <- prior
					return nil
				}
				claimed.Add(1)
				// Hold the claim a moment so that the others wait for it.
				time.Sleep(20 * time.Millisecond)
				return q.FinishDelivery(ctx, "github", "same", []byte(fmt.Sprintf("winner-%d", i)))
			})
			if err != nil {
				errs <- err
			}
		})
		close(errs)
		close(priors)
		for err := range errs {
			t.Errorf("claim: %v", err)
		}
		if claimed.Load() != 1 {
			t.Fatalf("%d claims succeeded, want 1", claimed.Load())
		}
		var result string
		n := 0
		for p := range priors {
			n++
			if result == "" {
				result = string(p.Result)
			}
			if string(p.Result) == "" || string(p.Result) != result {
				t.Fatalf("a losing claim saw result %q (others %q): it did not wait for the winner", p.Result, result)
			}
		}
		if n != claimers-1 {
			t.Fatalf("%d claims saw the prior, want %d", n, claimers-1)
		}
	})
}
