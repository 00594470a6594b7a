// Package quota holds the quota arithmetic shared by every store backend.
//
// Rate quotas use GCRA (the generic cell rate algorithm): a quota of L per
// window W admits a burst of L after a quiet period and then one every W/L
// as capacity refills. It is a leaky bucket, not a fixed window: over any
// window of length W it admits at most 2L-1 (a full burst, then the refill),
// and over longer periods at most L per W on average. A tolerance of
// min(W/L/2, 1s) absorbs charges applied out of timestamp order (see
// tolerance). Its state is
// a single timestamp (the theoretical arrival time), so one row per agent and
// quota, updated in the same transaction that records the decision, makes it
// exact across replicas. Concurrency quotas are leases held until an end
// event or a TTL releases them.
package quota
