package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/github"
	"github.com/agentgate/agentgate/internal/store"
)

// failedRedeliverer asks a provider's sender to deliver again what it
// could not deliver (GitHub never redelivers by itself).
type failedRedeliverer interface {
	RedeliverFailed(ctx context.Context, since time.Time, done github.DoneFunc, asked map[string]bool) (github.RedeliveryReport, error)
}

var _ failedRedeliverer = (*github.Provider)(nil)

// maxAsked bounds the guids remembered as asked for.
const maxAsked = 10000

// redeliverer runs the leader's scan for failed GitHub deliveries: every
// interval, and at once when the store is back after an outage, since the
// deliveries that failed during it were answered 503.
type redeliverer struct {
	p        failedRedeliverer
	source   string
	cfg      config.Redelivery
	store    store.DeliveryStore
	log      *slog.Logger
	asked    map[string]bool
	last     time.Time
	pending  bool // the store was down: scan as soon as it is back
	disabled bool
}

// newRedeliverer finds the GitHub provider; nil when there is none, the
// scan is off, or the provider has no App credentials.
func newRedeliverer(provs []providers.Provider, cfg config.Config, st store.DeliveryStore, log *slog.Logger) *redeliverer {
	if cfg.GitHub.Redelivery.Interval == 0 || cfg.GitHub.AppID == 0 {
		return nil
	}
	for _, p := range provs {
		if r, ok := p.(failedRedeliverer); ok {
			return &redeliverer{p: r, source: p.Name(), cfg: cfg.GitHub.Redelivery, store: st, log: log, asked: map[string]bool{}}
		}
	}
	return nil
}

// storeDown notes an outage: the next tick with the store back scans.
func (r *redeliverer) storeDown() {
	if r != nil {
		r.pending = true
	}
}

// tick scans when due. It reports what it did, for tests and logs.
func (r *redeliverer) tick(ctx context.Context, now time.Time) (github.RedeliveryReport, bool) {
	if r == nil || r.disabled || (!r.pending && now.Sub(r.last) < r.cfg.Interval) {
		return github.RedeliveryReport{}, false
	}
	if len(r.asked) > maxAsked {
		r.asked = map[string]bool{}
	}
	done := func(ctx context.Context, guid string) (bool, error) {
		return r.store.DeliveryDone(ctx, r.source, guid, now)
	}
	rep, err := r.p.RedeliverFailed(ctx, now.Add(-r.cfg.Lookback), done, r.asked)
	r.last = now
	switch {
	case errors.Is(err, github.ErrNoApp):
		r.disabled = true
		r.log.Warn("not redelivering failed GitHub deliveries", "err", err)
	case err != nil:
		r.log.Warn("scan for failed GitHub deliveries", "err", err, "redelivered", rep.Redelivered)
	default:
		r.pending = false
		if rep.Redelivered > 0 || rep.Failed > 0 {
			r.log.Info("scanned GitHub deliveries", "scanned", rep.Scanned, "failed", rep.Failed, "redelivered", rep.Redelivered, "skipped", rep.Skipped)
		}
	}
	return rep, true
}
