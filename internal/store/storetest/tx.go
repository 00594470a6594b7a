package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// decide is one admission decision's writes in a transaction: de-duplicate
// the delivery, create the agent, charge quotas, append the audit record,
// store the delivery's result.
func decide(ctx context.Context, q store.Queries, deliveryID string) error {
	now := baseTime()
	if prior, err := q.ClaimDelivery(ctx, delivery(deliveryID, now)); err != nil || prior != nil {
		return errors.Join(err, errors.New("delivery already claimed"))
	}
	if err := q.CreateAgent(ctx, newAgent("txagent", "github:txagent")); err != nil {
		return err
	}
	charges := []store.QuotaCharge{rateCharge("deploys", 5, time.Hour), leaseCharge("envs", 2, "pr-1", time.Hour)}
	if _, ok, err := q.ChargeQuotas(ctx, "id-txagent", charges, now); err != nil || !ok {
		return errors.Join(err, errors.New("quota refused"))
	}
	if err := q.AppendAudit(ctx, decisionRecord(1, "id-txagent", "allow")); err != nil {
		return err
	}
	return q.FinishDelivery(ctx, "github", deliveryID, []byte("allow"))
}

// decisionVisible reports which of decide's writes are visible outside.
func decisionVisible(t *testing.T, st store.Store, deliveryID string) map[string]bool {
	t.Helper()
	ctx := t.Context()
	seen := map[string]bool{}
	_, err := st.GetAgent(ctx, "id-txagent")
	seen["agent"] = err == nil
	usage, err := st.QuotaUsage(ctx, "id-txagent", baseTime())
	must(t, err)
	seen["quotas"] = len(usage) > 0
	n, _ := verifyChain(t, st)
	seen["audit"] = n > 0
	probe := errors.New("probe only: roll back")
	err = st.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		prior, err := q.ClaimDelivery(ctx, delivery(deliveryID, baseTime()))
		if err != nil {
			return err
		}
		seen["delivery"] = prior != nil
		return probe
	})
	if !errors.Is(err, probe) {
		t.Fatalf("delivery probe: %v", err)
	}
	return seen
}

func testTransactions(t *testing.T, s suite) {
	all := map[string]bool{"agent": true, "quotas": true, "audit": true, "delivery": true}
	none := map[string]bool{"agent": false, "quotas": false, "audit": false, "delivery": false}

	t.Run("commit makes every write visible", func(t *testing.T) {
		st := s.open(t)
		must(t, st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error { return decide(ctx, q, "d1") }))
		equal(t, "visible", decisionVisible(t, st, "d1"), all)
		recs, err := st.QueryAudit(t.Context(), store.AuditQuery{})
		must(t, err)
		if len(recs) != 1 || recs[0].Seq != 1 {
			t.Fatalf("audit after commit: %+v", recs)
		}
	})

	t.Run("error rolls back every write", func(t *testing.T) {
		st := s.open(t)
		boom := errors.New("boom")
		err := st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
			if err := decide(ctx, q, "d1"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v, want the function's error", err)
		}
		equal(t, "visible", decisionVisible(t, st, "d1"), none)
		// The chain continues from genesis: the rolled-back record left no trace.
		r := decisionRecord(2, "a1", "allow")
		must(t, st.AppendAudit(t.Context(), r))
		if r.Seq != 1 || r.PrevHash != audit.GenesisHash {
			t.Fatalf("append after rollback: seq=%d prev=%s", r.Seq, r.PrevHash)
		}
	})

	t.Run("panic rolls back and propagates", func(t *testing.T) {
		st := s.open(t)
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic was swallowed")
				}
			}()
			_ = st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
				if err := decide(ctx, q, "d1"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		equal(t, "visible", decisionVisible(t, st, "d1"), none)
	})

	t.Run("a conflict inside a transaction leaves it usable", func(t *testing.T) {
		st := s.open(t)
		createAgent(t, st, newAgent("taken", "github:taken"))
		must(t, st.InTx(t.Context(), func(ctx context.Context, q store.Queries) error {
			// A principal conflict after the agent row was inserted.
			if err := q.CreateAgent(ctx, newAgent("fresh", "github:fresh", "github:taken")); !errors.Is(err, store.ErrConflict) {
				return errors.Join(errors.New("want a principal conflict"), err)
			}
			other := newAgent("other")
			if err := q.CreateAgent(ctx, other); err != nil {
				return err
			}
			// A unique violation raised by the database.
			other.Name = "taken"
			if err := q.UpdateAgent(ctx, other); !errors.Is(err, store.ErrConflict) {
				return errors.Join(errors.New("want a name conflict"), err)
			}
			a, err := q.GetAgentByName(ctx, "taken")
			if err != nil {
				return err
			}
			a.Name = "fresh" // free again: the failed create left nothing
			if err := q.UpdateAgent(ctx, a); err != nil {
				return err
			}
			return q.PutToken(ctx, store.Token{Hash: "h", AgentID: a.ID, CreatedAt: baseTime()})
		}))
		ctx := t.Context()
		a, err := st.GetAgent(ctx, "id-taken")
		must(t, err)
		equal(t, "renamed in the transaction", a.Name, "fresh")
		other, err := st.GetAgent(ctx, "id-other")
		must(t, err)
		equal(t, "agent whose update failed", []any{other.Name, other.Version}, []any{"other", int64(1)})
		_, err = st.AgentByPrincipal(ctx, "github:fresh")
		wantErr(t, err, store.ErrNotFound)
		_, err = st.TokenByHash(ctx, "h")
		must(t, err)
	})
}
