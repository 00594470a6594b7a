package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

func rateCharge(name string, limit int64, window time.Duration) store.QuotaCharge {
	return store.QuotaCharge{Name: name, Limit: limit, Window: window, Cost: 1}
}

func leaseCharge(name string, limit int64, key string, ttl time.Duration) store.QuotaCharge {
	return store.QuotaCharge{Name: name, Concurrency: true, Limit: limit, Key: key, TTL: ttl}
}

func testQuotas(t *testing.T, s suite) {
	t.Run("rate quota admits the limit then refuses", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		for i := int64(1); i <= 3; i++ {
			res, ok, err := st.ChargeQuotas(ctx, "a1", []store.QuotaCharge{rateCharge("deploys", 3, time.Hour)}, now)
			must(t, err)
			if !ok {
				t.Fatalf("charge %d refused: %+v", i, res)
			}
			equal(t, "result", res, []store.QuotaResult{{Name: "deploys", Allowed: true, Used: i, Limit: 3}})
		}
		res, ok, err := st.ChargeQuotas(ctx, "a1", []store.QuotaCharge{rateCharge("deploys", 3, time.Hour)}, now)
		must(t, err)
		if ok {
			t.Fatal("fourth charge allowed")
		}
		equal(t, "refused result", res, []store.QuotaResult{{Name: "deploys", Used: 3, Limit: 3, RetryAfter: 20 * time.Minute}})
		// One unit refills every window/limit.
		res, ok, err = st.ChargeQuotas(ctx, "a1", []store.QuotaCharge{rateCharge("deploys", 3, time.Hour)}, now.Add(20*time.Minute))
		must(t, err)
		if !ok || res[0].Used != 3 {
			t.Fatalf("after refill: ok=%v %+v", ok, res)
		}
		// Another agent has its own quota.
		_, ok, err = st.ChargeQuotas(ctx, "a2", []store.QuotaCharge{rateCharge("deploys", 3, time.Hour)}, now)
		must(t, err)
		if !ok {
			t.Fatal("another agent's charge refused")
		}
	})

	t.Run("concurrency quota leases keys", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		charge := func(key string, at time.Time) (store.QuotaResult, bool) {
			t.Helper()
			res, ok, err := st.ChargeQuotas(ctx, "a1", []store.QuotaCharge{leaseCharge("envs", 2, key, time.Hour)}, at)
			must(t, err)
			return res[0], ok
		}
		steps := []struct {
			name     string
			key      string
			at       time.Duration
			release  bool
			wantOK   bool
			wantUsed int64
		}{
			{name: "first key", key: "pr-1", wantOK: true, wantUsed: 1},
			{name: "second key", key: "pr-2", wantOK: true, wantUsed: 2},
			{name: "third key refused", key: "pr-3", wantOK: false, wantUsed: 2},
			{name: "held key renews without counting twice", key: "pr-1", at: time.Minute, wantOK: true, wantUsed: 2},
			{name: "release frees a slot", key: "pr-2", release: true},
			{name: "third key fits", key: "pr-3", at: 2 * time.Minute, wantOK: true, wantUsed: 2},
			{name: "expired leases do not count", key: "pr-4", at: time.Hour + 90*time.Second, wantOK: true, wantUsed: 2},
		}
		for _, step := range steps {
			if step.release {
				released, err := st.ReleaseLease(ctx, "a1", "envs", step.key)
				must(t, err)
				if !released {
					t.Fatalf("%s: lease not released", step.name)
				}
				released, err = st.ReleaseLease(ctx, "a1", "envs", step.key)
				must(t, err)
				if released {
					t.Fatalf("%s: released a lease twice", step.name)
				}
				continue
			}
			res, ok := charge(step.key, now.Add(step.at))
			if ok != step.wantOK || res.Allowed != step.wantOK || res.Used != step.wantUsed || res.Limit != 2 {
				t.Fatalf("%s: ok=%v result=%+v, want ok=%v used=%d", step.name, ok, res, step.wantOK, step.wantUsed)
			}
			if !ok && res.RetryAfter <= 0 {
				t.Fatalf("%s: refused without a retry-after", step.name)
			}
		}
	})

	t.Run("all or nothing", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		_, ok, err := st.ChargeQuotas(ctx, "a1", []store.QuotaCharge{leaseCharge("envs", 1, "held", time.Hour)}, now)
		must(t, err)
		if !ok {
			t.Fatal("first lease refused")
		}
		charges := []store.QuotaCharge{rateCharge("deploys", 5, time.Hour), leaseCharge("envs", 1, "new", time.Hour)}
		res, ok, err := st.ChargeQuotas(ctx, "a1", charges, now)
		must(t, err)
		if ok {
			t.Fatal("charge with a full concurrency quota allowed")
		}
		equal(t, "results", res, []store.QuotaResult{
			{Name: "deploys", Allowed: true, Used: 0, Limit: 5},
			{Name: "envs", Used: 1, Limit: 1, RetryAfter: time.Hour},
		})
		usage, err := st.QuotaUsage(ctx, "a1", now)
		must(t, err)
		equal(t, "usage after a refused charge", usage, []store.QuotaUsage{{Name: "envs", Concurrency: true, Used: 1, Limit: 1}})
		// The refused lease was not written: releasing "held" frees the quota for "new".
		released, err := st.ReleaseLease(ctx, "a1", "envs", "new")
		must(t, err)
		if released {
			t.Fatal("refused lease was stored")
		}
	})

	t.Run("charges of one quota in one call see each other", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		res, ok, err := st.ChargeQuotas(ctx, "a1", []store.QuotaCharge{rateCharge("deploys", 1, time.Hour), rateCharge("deploys", 1, time.Hour)}, baseTime())
		must(t, err)
		if ok || !res[0].Allowed || res[1].Allowed {
			t.Fatalf("ok=%v results=%+v, want the second refused", ok, res)
		}
		usage, err := st.QuotaUsage(ctx, "a1", baseTime())
		must(t, err)
		if len(usage) != 0 {
			t.Fatalf("refused charge wrote usage %+v", usage)
		}
	})

	t.Run("usage reports the latest limit and window", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		for _, c := range [][]store.QuotaCharge{
			{rateCharge("deploys", 10, time.Hour), leaseCharge("envs", 3, "k1", time.Minute)},
			{rateCharge("deploys", 20, 2*time.Hour), leaseCharge("envs", 4, "k2", time.Hour)},
		} {
			_, ok, err := st.ChargeQuotas(ctx, "a1", c, now)
			must(t, err)
			if !ok {
				t.Fatal("charge refused")
			}
		}
		tests := []struct {
			name string
			at   time.Duration
			want []store.QuotaUsage
		}{
			{name: "now", want: []store.QuotaUsage{
				{Name: "deploys", Used: 2, Limit: 20, Window: 2 * time.Hour},
				{Name: "envs", Concurrency: true, Used: 2, Limit: 4},
			}},
			{name: "after the short lease expired", at: 2 * time.Minute, want: []store.QuotaUsage{
				{Name: "deploys", Used: 2, Limit: 20, Window: 2 * time.Hour},
				{Name: "envs", Concurrency: true, Used: 1, Limit: 4},
			}},
			{name: "after everything refilled", at: 3 * time.Hour, want: []store.QuotaUsage{
				{Name: "deploys", Used: 0, Limit: 20, Window: 2 * time.Hour},
				{Name: "envs", Concurrency: true, Used: 0, Limit: 4},
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				usage, err := st.QuotaUsage(ctx, "a1", now.Add(tc.at))
				must(t, err)
				equal(t, "usage", usage, tc.want)
			})
		}
		usage, err := st.QuotaUsage(ctx, "never-charged", now)
		must(t, err)
		if len(usage) != 0 {
			t.Fatalf("usage of an agent never charged: %+v", usage)
		}
	})

	t.Run("invalid charges", func(t *testing.T) {
		st := s.open(t)
		for name, c := range map[string]store.QuotaCharge{
			"no name":         rateCharge("", 1, time.Hour),
			"no window":       rateCharge("deploys", 1, 0),
			"no lease ttl":    leaseCharge("envs", 1, "k", 0),
			"negative window": rateCharge("deploys", 1, -time.Hour),
		} {
			_, _, err := st.ChargeQuotas(t.Context(), "a1", []store.QuotaCharge{c}, baseTime())
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("%s: error %v, want invalid", name, err)
			}
		}
	})
}

func testQuotasConcurrent(t *testing.T, s suite) {
	const goroutines = 40
	tests := []struct {
		name   string
		limit  int64
		charge func(i int) []store.QuotaCharge
	}{
		{name: "rate quota admits exactly its limit", limit: 7, charge: func(int) []store.QuotaCharge {
			return []store.QuotaCharge{rateCharge("deploys", 7, time.Hour)}
		}},
		{name: "concurrency quota admits exactly its limit", limit: 3, charge: func(i int) []store.QuotaCharge {
			return []store.QuotaCharge{leaseCharge("envs", 3, fmt.Sprintf("key-%d", i), time.Hour)}
		}},
		{name: "combined charge admits the smaller limit", limit: 4, charge: func(i int) []store.QuotaCharge {
			return []store.QuotaCharge{rateCharge("deploys", 9, time.Hour), leaseCharge("envs", 4, fmt.Sprintf("key-%d", i), time.Hour)}
		}},
	}
	// ways a charge is made: alone, or as a decision makes it (the charge
	// prepared, then a delivery claimed and the charge made in a shared
	// transaction).
	ways := []struct {
		name   string
		charge func(ctx context.Context, st store.Store, i int, charges []store.QuotaCharge, now time.Time) (bool, error)
	}{
		{"alone", func(ctx context.Context, st store.Store, _ int, charges []store.QuotaCharge, now time.Time) (bool, error) {
			_, ok, err := st.ChargeQuotas(ctx, "a1", charges, now)
			return ok, err
		}},
		{"prepared in a transaction", func(ctx context.Context, st store.Store, i int, charges []store.QuotaCharge, now time.Time) (bool, error) {
			return ChargePrepared(ctx, st.InTx, i, charges, now)
		}},
		{"prepared in a shared transaction", func(ctx context.Context, st store.Store, i int, charges []store.QuotaCharge, now time.Time) (bool, error) {
			return ChargePrepared(ctx, st.InSharedTx, i, charges, now)
		}},
	}
	for _, way := range ways {
		for _, tc := range tests {
			t.Run(way.name+"/"+tc.name, func(t *testing.T) {
				testChargesConcurrent(t, s, goroutines, tc.limit, func(ctx context.Context, st store.Store, i int, now time.Time) (bool, error) {
					return way.charge(ctx, st, i, tc.charge(i), now)
				})
			})
		}
	}

	t.Run("fifty writers never fail busy", func(t *testing.T) {
		st := s.open(t)
		const writers = 50
		errs := make(chan error, writers)
		concurrently(writers, func(i int) {
			agent := fmt.Sprintf("agent-%d", i%5)
			for j := range 4 {
				charges := []store.QuotaCharge{rateCharge("deploys", 1000, time.Hour), leaseCharge("envs", 1000, fmt.Sprintf("k-%d-%d", i, j), time.Hour)}
				if _, ok, err := st.ChargeQuotas(t.Context(), agent, charges, baseTime()); err != nil || !ok {
					errs <- fmt.Errorf("writer %d charge %d: ok=%v err=%v", i, j, ok, err)
					return
				}
			}
		})
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for a := range 5 {
			usage, err := st.QuotaUsage(t.Context(), fmt.Sprintf("agent-%d", a), baseTime())
			must(t, err)
			equal(t, "usage", usage, []store.QuotaUsage{
				{Name: "deploys", Used: 40, Limit: 1000, Window: time.Hour},
				{Name: "envs", Concurrency: true, Used: 40, Limit: 1000},
			})
		}
	})

	t.Run("leases by quota and key across agents", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		now := baseTime()
		for _, c := range []struct {
			agent, name, key string
			ttl              time.Duration
		}{
			{"a2", "wfs", "ns/b", time.Hour},
			{"a1", "wfs", "ns/b", 2 * time.Hour},
			{"a1", "wfs", "ns/a", time.Hour},
			{"a1", "wfs", "ns/old", time.Minute},
			{"a1", "envs", "ns/a", time.Hour},
		} {
			_, ok, err := st.ChargeQuotas(ctx, c.agent, []store.QuotaCharge{leaseCharge(c.name, 10, c.key, c.ttl)}, now)
			must(t, err)
			if !ok {
				t.Fatalf("lease %+v refused", c)
			}
		}
		later := now.Add(5 * time.Minute)
		all, err := st.Leases(ctx, store.LeaseFilter{Name: "wfs"}, later)
		must(t, err)
		equal(t, "every unexpired lease of the quota", all, []store.Lease{
			{AgentID: "a1", Name: "wfs", Key: "ns/a", ExpiresAt: now.Add(time.Hour)},
			{AgentID: "a1", Name: "wfs", Key: "ns/b", ExpiresAt: now.Add(2 * time.Hour)},
			{AgentID: "a2", Name: "wfs", Key: "ns/b", ExpiresAt: now.Add(time.Hour)},
		})
		one, err := st.Leases(ctx, store.LeaseFilter{Name: "wfs", Key: "ns/b"}, later)
		must(t, err)
		equal(t, "holders of one key", len(one), 2)
		released, err := st.ReleaseLease(ctx, one[1].AgentID, "wfs", "ns/b")
		must(t, err)
		if !released {
			t.Fatal("listed lease could not be released")
		}
		one, err = st.Leases(ctx, store.LeaseFilter{Name: "wfs", Key: "ns/b"}, later)
		must(t, err)
		equal(t, "holders after a release", one, []store.Lease{{AgentID: "a1", Name: "wfs", Key: "ns/b", ExpiresAt: now.Add(2 * time.Hour)}})
		none, err := st.Leases(ctx, store.LeaseFilter{Name: "nothing"}, later)
		must(t, err)
		equal(t, "unknown quota", none, []store.Lease{})
		if _, err := st.Leases(ctx, store.LeaseFilter{}, later); apperr.KindOf(err) != apperr.KindInvalid {
			t.Fatalf("lease query without a name: err = %v, want invalid", err)
		}
	})

}

// testChargesConcurrent makes n charges of agent a1 at once and checks
// that exactly limit were admitted and no usage exceeds its limit.
func testChargesConcurrent(t *testing.T, s suite, n int, limit int64, charge func(ctx context.Context, st store.Store, i int, now time.Time) (bool, error)) {
	st := s.open(t)
	now := baseTime()
	var allowed, refused atomic.Int64
	errs := make(chan error, n)
	concurrently(n, func(i int) {
		ok, err := charge(t.Context(), st, i, now)
		switch {
		case err != nil:
			errs <- err
		case ok:
			allowed.Add(1)
		default:
			refused.Add(1)
		}
	})
	close(errs)
	for err := range errs {
		t.Errorf("concurrent charge: %v", err)
	}
	if allowed.Load() != limit || refused.Load() != int64(n)-limit {
		t.Fatalf("allowed %d, refused %d; want %d allowed", allowed.Load(), refused.Load(), limit)
	}
	usage, err := st.QuotaUsage(t.Context(), "a1", now)
	must(t, err)
	for _, u := range usage {
		if u.Used > u.Limit {
			t.Fatalf("usage over limit: %+v", u)
		}
	}
}

// testPrepareCharge: a prepared charge charges what the store holds when
// it is made, whatever happened in the transaction since it was prepared.
func testPrepareCharge(t *testing.T, s suite) {
	now := baseTime()
	lease := func(key string) []store.QuotaCharge {
		return []store.QuotaCharge{leaseCharge("envs", 1, key, time.Hour)}
	}
	tests := []struct {
		name string
		// before runs outside the transaction; in runs in it, between the
		// preparation and the charge.
		before func(t *testing.T, st store.Store)
		in     func(ctx context.Context, q store.Queries) error
		// want is whether the charge of lease "k2" (limit 1) is admitted.
		want bool
	}{
		{name: "first charge of the agent", want: true},
		{name: "a lease held refuses", before: func(t *testing.T, st store.Store) {
			_, ok, err := st.ChargeQuotas(t.Context(), "a1", lease("k1"), now)
			must(t, err)
			if !ok {
				t.Fatal("the first lease was refused")
			}
		}, want: false},
		{name: "a lease released after the preparation is free", before: func(t *testing.T, st store.Store) {
			_, _, err := st.ChargeQuotas(t.Context(), "a1", lease("k1"), now)
			must(t, err)
		}, in: func(ctx context.Context, q store.Queries) error {
			released, err := q.ReleaseLease(ctx, "a1", "envs", "k1")
			if err == nil && !released {
				err = errors.New("lease k1 was not released")
			}
			return err
		}, want: true},
		{name: "a lease charged after the preparation counts", in: func(ctx context.Context, q store.Queries) error {
			_, ok, err := q.ChargeQuotas(ctx, "a1", lease("k1"), now)
			if err == nil && !ok {
				err = errors.New("lease k1 was refused")
			}
			return err
		}, want: false},
		{name: "another agent's charge in between", before: func(t *testing.T, st store.Store) {
			_, _, err := st.ChargeQuotas(t.Context(), "a2", lease("k1"), now)
			must(t, err)
			// a1 was charged before, so its preparation finds its lock.
			_, _, err = st.ChargeQuotas(t.Context(), "a1", []store.QuotaCharge{rateCharge("builds", 10, time.Hour)}, now)
			must(t, err)
		}, in: func(ctx context.Context, q store.Queries) error {
			// a2 holds its only lease: its charge is refused, whatever
			// was prepared for a1.
			_, ok, err := q.ChargeQuotas(ctx, "a2", lease("k9"), now)
			if err == nil && ok {
				err = errors.New("a2's second lease was admitted")
			}
			return err
		}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.open(t)
			if tc.before != nil {
				tc.before(t, st)
			}
			var ok bool
			err := st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				if err := q.PrepareCharge(ctx, "a1"); err != nil {
					return err
				}
				if tc.in != nil {
					if err := tc.in(ctx, q); err != nil {
						return err
					}
				}
				var err error
				_, ok, err = q.ChargeQuotas(ctx, "a1", lease("k2"), now)
				return err
			})
			must(t, err)
			if ok != tc.want {
				t.Fatalf("charge admitted: %v; want %v", ok, tc.want)
			}
			leases, err := st.Leases(t.Context(), store.LeaseFilter{Name: "envs"}, now)
			must(t, err)
			held := 0
			for _, l := range leases {
				if l.AgentID == "a1" {
					held++
				}
			}
			if held > 1 {
				t.Fatalf("a1 holds %d leases of a quota of 1: %+v", held, leases)
			}
		})
	}
}

// ChargePrepared charges agent a1 as a decision does, in a transaction
// run by inTx (a store's InTx or InSharedTx): the charge prepared, delivery
// "d-<i>" claimed, then the charge made. ok is the charge's, from the run
// that committed.
func ChargePrepared(ctx context.Context, inTx func(context.Context, func(context.Context, store.Queries) error) error, i int, charges []store.QuotaCharge, now time.Time) (bool, error) {
	var ok bool
	err := inTx(ctx, func(ctx context.Context, q store.Queries) error {
		if err := q.PrepareCharge(ctx, "a1"); err != nil {
			return err
		}
		d := store.Delivery{Provider: "generic", ID: fmt.Sprintf("d-%d", i), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := q.ClaimDelivery(ctx, d); err != nil {
			return err
		}
		var err error
		_, ok, err = q.ChargeQuotas(ctx, "a1", charges, now)
		return err
	})
	return ok, err
}
