package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// benchCharges are a typical decision's quotas: a rate quota that never
// runs out and a concurrency quota renewing one of a few keys.
func benchCharges(i int64) []store.QuotaCharge {
	return []store.QuotaCharge{
		rateCharge("deploys_per_hour", 1<<40, time.Hour),
		leaseCharge("environments", 64, fmt.Sprintf("env-%d", i%8), time.Hour),
	}
}

// Bench measures the store operations on a decision's path: ChargeQuotas and
// AppendAudit alone, and Decision, one admission decision's transaction
// (ClaimDelivery, ChargeQuotas, AppendAudit, FinishDelivery), serially and
// from parallel goroutines.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("ChargeQuotas", func(b *testing.B) {
		st := open(b)
		ctx := b.Context()
		var i int64
		for b.Loop() {
			i++
			if _, ok, err := st.ChargeQuotas(ctx, "agent", benchCharges(i), baseTime()); err != nil || !ok {
				b.Fatalf("charge: ok=%v err=%v", ok, err)
			}
		}
	})

	b.Run("AppendAudit", func(b *testing.B) {
		st := open(b)
		ctx := b.Context()
		i := 0
		for b.Loop() {
			i++
			if err := st.AppendAudit(ctx, decisionRecord(i, "agent", "allow")); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("Decision", func(b *testing.B) {
		st := open(b)
		ctx := b.Context()
		var i int64
		for b.Loop() {
			i++
			if err := benchDecision(ctx, st, i, "agent"); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("DecisionParallel", func(b *testing.B) {
		st := open(b)
		ctx := b.Context()
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := seq.Add(1)
				if err := benchDecision(ctx, st, i, fmt.Sprintf("agent-%d", i%16)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// benchDecision is the store's share of one admission decision.
func benchDecision(ctx context.Context, st store.Store, i int64, agentID string) error {
	id := fmt.Sprintf("delivery-%d", i)
	return st.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		prior, err := q.ClaimDelivery(ctx, delivery(id, baseTime()))
		if err != nil || prior != nil {
			return fmt.Errorf("claim %s: prior=%v err=%w", id, prior, err)
		}
		if _, ok, err := q.ChargeQuotas(ctx, agentID, benchCharges(i), baseTime()); err != nil || !ok {
			return fmt.Errorf("charge: ok=%v err=%w", ok, err)
		}
		if err := q.AppendAudit(ctx, decisionRecord(int(i), agentID, "allow")); err != nil {
			return err
		}
		return q.FinishDelivery(ctx, "github", id, []byte(`{"decision":"allow"}`))
	})
}
