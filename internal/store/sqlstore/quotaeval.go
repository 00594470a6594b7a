package sqlstore

import (
	"maps"
	"time"

	"github.com/agentgate/agentgate/internal/quota"
	"github.com/agentgate/agentgate/internal/store"
)

// quotaState is an agent's quota state as read under its lock.
type quotaState struct {
	// tats is each rate quota's theoretical arrival time.
	tats map[string]time.Time
	// leases is each concurrency quota's unexpired leases: key -> expiry.
	leases map[string]map[string]time.Time
	// expired is set when expired leases are left to delete.
	expired bool
}

// quotaWrites is what an accepted charge stores.
type quotaWrites struct {
	quotas []quotaWrite
	leases []leaseWrite
}

// quotaWrite is one quota row: its latest limit and window and, for a rate
// quota, its new theoretical arrival time.
type quotaWrite struct {
	name        string
	concurrency bool
	limit       int64
	window      time.Duration
	tatNanos    int64
}

// leaseWrite is one acquired or renewed lease.
type leaseWrite struct {
	name, key string
	expires   time.Time
}

// evaluateCharges runs charges, in order, against st at now. Charges of the
// same quota in one call see each other. ok is true when every charge was
// allowed; only then is w to be written.
func evaluateCharges(charges []store.QuotaCharge, st quotaState, now time.Time) (results []store.QuotaResult, ok bool, w quotaWrites) {
	tats := maps.Clone(st.tats)
	leases := map[string]map[string]time.Time{}
	for name, keys := range st.leases {
		leases[name] = maps.Clone(keys)
	}
	results = make([]store.QuotaResult, len(charges))
	ok = true
	for i, c := range charges {
		res := store.QuotaResult{Name: c.Name, Limit: c.Limit}
		if c.Concurrency {
			keys := leases[c.Name]
			if keys == nil {
				keys = map[string]time.Time{}
				leases[c.Name] = keys
			}
			_, held := keys[c.Key]
			if held || int64(len(keys)) < c.Limit {
				res.Allowed = true
				keys[c.Key] = now.Add(c.TTL)
			} else {
				res.RetryAfter = c.TTL
				for _, exp := range keys {
					res.RetryAfter = min(res.RetryAfter, exp.Sub(now))
				}
			}
			res.Used = int64(len(keys))
		} else {
			v := quota.Apply(quota.Rate{Limit: c.Limit, Window: c.Window, Cost: c.Cost}, tats[c.Name], now)
			res.Allowed, res.Used, res.RetryAfter = v.Allowed, v.Used, v.RetryAfter
			if v.Allowed {
				tats[c.Name] = v.TAT
			}
		}
		ok = ok && res.Allowed
		results[i] = res
	}
	if !ok {
		for i, c := range charges {
			if !results[i].Allowed {
				continue
			}
			if c.Concurrency {
				results[i].Used = int64(len(st.leases[c.Name]))
			} else {
				results[i].Used = quota.Used(quota.Rate{Limit: c.Limit, Window: c.Window}, st.tats[c.Name], now)
			}
		}
		return results, false, quotaWrites{}
	}
	return results, true, plannedWrites(charges, tats, leases)
}

// plannedWrites lists the rows an accepted charge stores: one per quota
// (the last charge's limit and window) and one per acquired or renewed lease.
func plannedWrites(charges []store.QuotaCharge, tats map[string]time.Time, leases map[string]map[string]time.Time) quotaWrites {
	var w quotaWrites
	quotaAt := map[string]int{}
	leaseSeen := map[[2]string]bool{}
	for _, c := range charges {
		q := quotaWrite{name: c.Name, concurrency: c.Concurrency, limit: c.Limit}
		if c.Concurrency {
			if k := [2]string{c.Name, c.Key}; !leaseSeen[k] {
				leaseSeen[k] = true
				w.leases = append(w.leases, leaseWrite{name: c.Name, key: c.Key, expires: leases[c.Name][c.Key]})
			}
		} else {
			q.window, q.tatNanos = c.Window, tats[c.Name].UnixNano()
		}
		if i, seen := quotaAt[c.Name]; seen {
			w.quotas[i] = q
			continue
		}
		quotaAt[c.Name] = len(w.quotas)
		w.quotas = append(w.quotas, q)
	}
	return w
}
