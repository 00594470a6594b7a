package sqlstore

import (
	"context"
	"time"
)

// quotaPrefetch is what PrepareCharge read of an agent's quotas: the
// agent's quota lock and its quotas, read with the statement that followed
// (the delivery's claim, for a decision), for the agent's next charge in
// the transaction.
type quotaPrefetch struct {
	agentID string
	// locked says the lock row was there (and is now held); without it the
	// reads were made unlocked and the charge reads again.
	locked bool
	// done is set by the last statement's reader: the reads were made.
	done   bool
	rates  []rateRow
	leases []leaseRow
}

type rateRow struct {
	name string
	tat  int64
}

type leaseRow struct {
	name, key string
	expiresUs int64
}

// PrepareCharge queues the agent's quota lock and reads for the
// transaction's next round trip, where the dialect pipelines.
func (x *queries) PrepareCharge(ctx context.Context, agentID string) error {
	if !x.pipelined() || x.s.dialect.ForUpdate == "" {
		return nil
	}
	pf := &quotaPrefetch{agentID: agentID}
	x.st.prefetch = pf
	x.st.pending = append(x.st.pending,
		x.lockQuotas(agentID, &pf.locked),
		readRates(agentID, func(rows Rows) error {
			for rows.Next() {
				var r rateRow
				if err := rows.Scan(&r.name, &r.tat); err != nil {
					return err
				}
				pf.rates = append(pf.rates, r)
			}
			return nil
		}),
		readLeases(agentID, func(rows Rows) error {
			for rows.Next() {
				var r leaseRow
				if err := rows.Scan(&r.name, &r.key, &r.expiresUs); err != nil {
					return err
				}
				pf.leases = append(pf.leases, r)
			}
			pf.done = true
			return nil
		}))
	return nil
}

// prefetched returns the agent's quota state as PrepareCharge read it,
// sending its statements first if nothing carried them yet. ok is false
// when there is none to use: no PrepareCharge for this agent since the
// last charge, or the agent had no lock row yet. A prefetch is used once.
func (x *queries) prefetched(ctx context.Context, agentID string, now time.Time) (quotaState, bool, error) {
	if x.st == nil || x.st.prefetch == nil {
		return quotaState{}, false, nil
	}
	pf := x.st.prefetch
	x.st.prefetch = nil
	if pf.agentID != agentID {
		return quotaState{}, false, nil
	}
	if err := x.flush(ctx); err != nil {
		return quotaState{}, false, err
	}
	if !pf.done || !pf.locked {
		return quotaState{}, false, nil
	}
	st := quotaState{tats: make(map[string]time.Time, len(pf.rates)), leases: map[string]map[string]time.Time{}}
	for _, r := range pf.rates {
		st.tats[r.name] = time.Unix(0, r.tat).UTC()
	}
	for _, l := range pf.leases {
		st.addLease(l.name, l.key, fromMicros(l.expiresUs), now)
	}
	return st, true, nil
}
