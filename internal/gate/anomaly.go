package gate

import (
	"context"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

// AnomalyActor is the actor recorded for kill switches the detector pulls.
const AnomalyActor = "anomaly-detector"

// anomalyCounts are an agent's decisions in the current minute.
type anomalyCounts struct {
	requests int64
	denials  int64
}

// anomalyCounters are the per-minute counters a decision adds to, written
// with its record inside its transaction so that the counts are exact
// across replicas; c receives the new counts.
func anomalyCounters(agentID string, outcome Outcome, now time.Time, c *anomalyCounts) []store.CounterIncr {
	cs := []store.CounterIncr{{Key: "requests:" + agentID, Window: time.Minute, At: now, N: &c.requests}}
	if outcome == Deny {
		cs = append(cs, store.CounterIncr{Key: "denials:" + agentID, Window: time.Minute, At: now, N: &c.denials})
	}
	return cs
}

// checkAnomalies pulls the agent's kill switch when it crosses a threshold
// from policy. Exactly one decision sees a counter cross the threshold, so
// the switch is pulled once per runaway minute, on one replica.
func (g *Gate) checkAnomalies(ctx context.Context, p *plan, c anomalyCounts) {
	a, th := p.ident.Agent, p.policy.Anomaly
	if a == nil || th == nil || g.o.Killer == nil {
		return
	}
	var reason, kind string
	switch {
	case th.MaxDenialsPerMinute > 0 && c.denials == th.MaxDenialsPerMinute+1:
		kind = "denials"
		reason = fmt.Sprintf("anomaly: %d denials within a minute (threshold %d)", c.denials, th.MaxDenialsPerMinute)
	case th.MaxRequestsPerMinute > 0 && c.requests == th.MaxRequestsPerMinute+1:
		kind = "request_rate"
		reason = fmt.Sprintf("anomaly: %d requests within a minute (threshold %d for tier %s)", c.requests, th.MaxRequestsPerMinute, a.Tier)
	default:
		return
	}
	ks, created, err := g.o.Killer.Engage(ctx, AnomalyActor, registry.KillRequest{Scope: store.ScopeAgent, Target: a.ID, Reason: reason, Source: registry.SourceAnomaly})
	if err != nil {
		g.o.Logger.ErrorContext(ctx, "anomaly detector could not engage kill switch", "agent_id", a.ID, "err", err)
		return
	}
	if !created {
		return
	}
	if g.o.Metrics != nil {
		g.o.Metrics.AnomalyTrips.WithLabelValues(kind).Inc()
	}
	g.o.Logger.WarnContext(ctx, "anomaly detector engaged kill switch", "agent_id", a.ID, "killswitch_id", ks.ID, "reason", reason)
}

// observe records metrics for a decision.
func (g *Gate) observe(ctx context.Context, p *plan, res Result, replayed bool, took time.Duration) {
	m := g.o.Metrics
	if m == nil {
		return
	}
	provider := p.ev.Provider
	if replayed {
		m.DeliveryReplays.WithLabelValues(provider).Inc()
		return
	}
	agentType := "human"
	switch {
	case p.ident.Agent != nil:
		agentType = p.ident.Agent.Type
	case p.ident.Unregistered:
		agentType = "unregistered"
	}
	m.Decisions.WithLabelValues(provider, string(res.Outcome), string(res.Effective), agentType).Inc()
	m.DecisionLatency.WithLabelValues(provider).Observe(took.Seconds())
	for _, q := range res.Quotas {
		if !q.Allowed {
			m.QuotaRejections.WithLabelValues(q.Name, agentType).Inc()
		}
	}
	g.o.Logger.DebugContext(ctx, "decision", "provider", provider, "outcome", res.Outcome, "effective", res.Effective, "took", took)
}
