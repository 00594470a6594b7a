// Package quota holds the quota arithmetic shared by every store backend.
//
// Rate quotas use GCRA (the generic cell rate algorithm): a quota of L per
// window W admits a burst of L and then one every W/L, which is exactly "at
// most L in any window of length W" measured as a leaky bucket. Its state is
// a single timestamp (the theoretical arrival time), so one row per agent and
// quota, updated in the same transaction that records the decision, makes it
// exact across replicas. Concurrency quotas are leases held until an end
// event or a TTL releases them.
package quota
