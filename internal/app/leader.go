package app

import (
	"context"
	"time"
)

const (
	leaderLease    = "agentgate-background"
	leaderTTL      = 30 * time.Second
	leaderInterval = 10 * time.Second
	// leaseMargin is how long before the lease expires a leader stops
	// acting on it, for clock drift between replicas.
	leaseMargin = 2 * time.Second
	// rollbackTick is how often the leader looks for due watches and
	// pending rollbacks: a watch is read at most this late.
	rollbackTick = time.Second
)

// runLeader competes for the background lease and, while holding it,
// purges expired deliveries and anomaly counters and expires approvals
// past their deadline (refusing the held changes). Exactly one replica does
// this work at a time; if it dies, another takes over after the lease TTL.
func (a *App) runLeader(ctx context.Context) error {
	t := time.NewTicker(leaderInterval)
	defer t.Stop()
	leading := false
	for {
		now := time.Now()
		ok, err := a.Store.AcquireLeader(ctx, leaderLease, a.holder, leaderTTL, now)
		switch {
		case err != nil:
			a.log.Warn("leader lease check failed", "err", err)
			a.redeliver.storeDown()
		case ok != leading:
			leading = ok
			a.log.Info("leadership changed", "leader", ok, "holder", a.holder)
		}
		switch {
		case ok:
			a.leaseUntil.Store(now.Add(leaderTTL - leaseMargin).UnixNano())
		case err == nil:
			a.leaseUntil.Store(0)
		}
		if ok {
			a.leaderWork(ctx, now)
		}
		select {
		case <-ctx.Done():
			a.leaseUntil.Store(0)
			if leading {
				rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = a.Store.ReleaseLeader(rctx, leaderLease, a.holder)
				cancel()
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (a *App) leaderWork(ctx context.Context, now time.Time) {
	if n, err := a.Store.PurgeDeliveries(ctx, now); err != nil {
		a.log.Warn("purge deliveries", "err", err)
	} else if n > 0 {
		a.log.Debug("purged expired deliveries", "count", n)
	}
	if _, err := a.Store.PurgeCounters(ctx, now); err != nil {
		a.log.Warn("purge counters", "err", err)
	}
	// A Workflow's attribution serves its resubmissions: kept as long as
	// deliveries are. A CronWorkflow's stays while the CronWorkflow runs.
	if _, err := a.Store.PurgeAttributions(ctx, "Workflow", now.Add(-a.Config.Webhooks.DeliveryTTL)); err != nil {
		a.log.Warn("purge attributions", "err", err)
	}
	a.redeliver.tick(ctx, now)
	if n, err := a.Approvals.ExpireDue(ctx); err != nil {
		a.log.Warn("expire approvals", "err", err)
	} else if n > 0 {
		a.log.Info("approvals expired", "count", n)
	}
	// Recorded policy inputs past their retention, a batch per tick.
	if n, err := a.Store.PurgeInputs(ctx, now.Add(-a.Config.Policy.InputRetention), 10000); err != nil {
		a.log.Warn("purge policy inputs", "err", err)
	} else if n > 0 {
		a.log.Debug("purged recorded policy inputs", "count", n)
	}
	a.promote(ctx, now)
}

// promote runs a promotion pass once every promotion.interval.
func (a *App) promote(ctx context.Context, now time.Time) {
	if a.Promotion == nil || now.UnixNano() < a.nextPromotion.Load() {
		return
	}
	a.nextPromotion.Store(now.Add(a.Config.Promotion.Interval).UnixNano())
	sum, err := a.Promotion.RunOnce(ctx)
	if err != nil {
		a.log.Warn("promotion pass", "err", err)
	}
	if sum.Proposed > 0 || sum.Withdrawn > 0 {
		a.log.Info("promotion pass", "assessed", sum.Assessed, "proposed", sum.Proposed, "applied", sum.Applied, "withdrawn", sum.Withdrawn)
	}
}

// leader reports whether this replica holds the background lease now.
func (a *App) leader(now time.Time) bool { return now.UnixNano() < a.leaseUntil.Load() }

// runRollback evaluates due watches and runs pending rollbacks every
// second while this replica leads, so that each watch is read at its own
// interval (at most a second late) and a rollback left pending by a
// stopped replica is picked up.
func (a *App) runRollback(ctx context.Context) error {
	t := time.NewTicker(rollbackTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			if !a.leader(time.Now()) {
				continue
			}
			if _, err := a.Rollback.Tick(ctx, now); err != nil && ctx.Err() == nil {
				a.log.Warn("rollback watches", "err", err)
			}
		}
	}
}
