package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/github"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// failedRedeliverer asks a provider's sender to deliver again what it
// could not deliver (GitHub never redelivers by itself).
type failedRedeliverer interface {
	RedeliverFailed(ctx context.Context, since time.Time, done github.DoneFunc, asked github.AskLog) (github.RedeliveryReport, error)
}

var (
	_ failedRedeliverer = (*github.Provider)(nil)
	_ github.AskLog     = (*askLog)(nil)
)

// scanOverlap is how far before the previous scan's start a scan begins:
// a delivery's attempt is listed once it ends, a little after it started.
const scanOverlap = time.Minute

// redeliverer runs the leader's scan for failed GitHub deliveries: every
// interval, and at once when the store is back after an outage, since the
// deliveries that failed during it were answered 503.
type redeliverer struct {
	p        failedRedeliverer
	source   string
	cfg      config.Redelivery
	store    store.Store
	asked    *askLog
	log      *slog.Logger
	last     time.Time // when the last scan ran
	from     time.Time // where the last successful scan began
	pending  bool      // the store was down: scan as soon as it is back
	disabled bool
}

// newRedeliverer finds the GitHub provider; nil when there is none, the
// scan is off, or the provider has no App credentials.
func newRedeliverer(provs []providers.Provider, cfg config.Config, st store.Store, m *telemetry.Metrics, log *slog.Logger) *redeliverer {
	if cfg.GitHub.Redelivery.Interval == 0 || cfg.GitHub.AppID == 0 {
		return nil
	}
	for _, p := range provs {
		if r, ok := p.(failedRedeliverer); ok {
			return &redeliverer{p: r, source: p.Name(), cfg: cfg.GitHub.Redelivery, store: st, log: log,
				asked: &askLog{store: st, source: p.Name(), keep: cfg.GitHub.Redelivery.Lookback, metrics: m}}
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
	done := func(ctx context.Context, guid string) (bool, error) {
		return r.store.DeliveryDone(ctx, r.source, guid, now)
	}
	since := now.Add(-r.cfg.Lookback)
	if from := r.from.Add(-scanOverlap); from.After(since) {
		since = from
	}
	r.asked.now = now
	rep, err := r.p.RedeliverFailed(ctx, since, done, r.asked)
	r.last = now
	switch {
	case errors.Is(err, github.ErrNoApp):
		r.disabled = true
		r.log.Warn("not redelivering failed GitHub deliveries", "err", err)
	case err != nil:
		// The next scan starts where this one did.
		r.log.Warn("scan for failed GitHub deliveries", "err", err, "redelivered", rep.Redelivered)
	default:
		r.pending = false
		r.from = now
		if rep.Redelivered > 0 || rep.Failed > 0 {
			r.log.Info("scanned GitHub deliveries", "scanned", rep.Scanned, "failed", rep.Failed, "redelivered", rep.Redelivered, "skipped", rep.Skipped)
		}
	}
	return rep, true
}

// askLog keeps which deliveries were asked for again in the store, under
// the provider's name with a ".redelivery" suffix in the deliveries table:
// every replica and restart sees it, and it expires with the look-back
// (GitHub no longer lists the delivery after that). Each ask is audited
// and counted.
type askLog struct {
	store   store.Store
	source  string
	keep    time.Duration
	metrics *telemetry.Metrics
	now     time.Time
}

func (l *askLog) key() string { return l.source + ".redelivery" }

func (l *askLog) WasAsked(ctx context.Context, guid string) (bool, error) {
	return l.store.DeliveryDone(ctx, l.key(), guid, l.now)
}

func (l *askLog) Asked(ctx context.Context, r github.Redelivery) error {
	body, err := json.Marshal(map[string]any{"delivery_id": r.DeliveryID, "event": r.Event, "action": r.Action, "status_code": r.StatusCode})
	if err != nil {
		return err
	}
	prior, err := l.store.ClaimDelivery(ctx, store.Delivery{Provider: l.key(), ID: r.GUID, CreatedAt: l.now, ExpiresAt: l.now.Add(l.keep)})
	if err != nil {
		return err
	}
	if prior != nil {
		return nil // another replica asked and recorded it
	}
	if err := l.store.FinishDelivery(ctx, l.key(), r.GUID, body); err != nil {
		return err
	}
	if l.metrics != nil {
		l.metrics.Redeliveries.WithLabelValues(l.source, r.Event).Inc()
	}
	return l.store.AppendAudit(ctx, &audit.Record{ID: uuid.NewString(), Time: l.now, Kind: audit.KindRedelivery, Actor: "agentgate",
		Provider: l.source, DeliveryID: r.GUID, Message: "asked GitHub to deliver again a delivery that got no 2xx answer",
		Details: map[string]string{"event": r.Event, "action": r.Action, "delivery_id": strconv.FormatInt(r.DeliveryID, 10),
			"status_code": strconv.Itoa(r.StatusCode), "delivered_at": r.DeliveredAt.UTC().Format(time.RFC3339)}})
}
