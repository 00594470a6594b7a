package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every agentgate collector.
type Metrics struct {
	Decisions        *prometheus.CounterVec
	DecisionLatency  *prometheus.HistogramVec
	QuotaRejections  *prometheus.CounterVec
	Webhooks         *prometheus.CounterVec
	PolicyReloads    *prometheus.CounterVec
	PolicyHealthy    prometheus.Gauge
	AnomalyTrips     *prometheus.CounterVec
	LeasesReleased   *prometheus.CounterVec
	HTTPRequests     *prometheus.HistogramVec
	DeliveryReplays  *prometheus.CounterVec
	EnforcementFails *prometheus.CounterVec
	Redeliveries     *prometheus.CounterVec
	Rollbacks        *prometheus.CounterVec
	ShadowDecisions  *prometheus.CounterVec
	ShadowChanges    *prometheus.CounterVec
	// DecisionsInFlight, DecisionsQueued and DecisionsShed follow the
	// gate's bound on decisions worked on at once.
	DecisionsInFlight prometheus.Gauge
	DecisionsQueued   prometheus.Gauge
	DecisionsShed     *prometheus.CounterVec
	// HTTPConnectionsOpen and HTTPConnectionsMax follow the listener's
	// bound on open connections (server.max_connections).
	HTTPConnectionsOpen prometheus.Gauge
	HTTPConnectionsMax  prometheus.Gauge
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "decisions_total",
			Help: "Admission decisions by provider, outcome (allow, deny, approval_required), effective outcome and agent type (human, unregistered for non-agents).",
		}, []string{"provider", "outcome", "effective", "agent_type"}),
		DecisionLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "agentgate", Name: "decision_duration_seconds",
			Help:    "Time to decide, including the durable audit append.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"provider"}),
		QuotaRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "quota_rejections_total",
			Help: "Decisions denied because a quota was exhausted, by quota and agent type.",
		}, []string{"quota", "agent_type"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "webhook_requests_total",
			Help: "Webhook requests by provider and result (decided, ignored, unauthenticated, invalid, too_large, replayed, error).",
		}, []string{"provider", "result"}),
		PolicyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "policy_reloads_total",
			Help: "Policy reload attempts by result (success, failure).",
		}, []string{"result"}),
		PolicyHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "agentgate", Name: "policy_last_reload_ok",
			Help: "1 if the newest policy set on disk is the one serving, 0 if it was rejected and the last good set is still in use.",
		}),
		LeasesReleased: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "leases_released_total",
			Help: "Concurrency leases given back by key (not by the agent's own end event), by quota and cause.",
		}, []string{"quota", "cause"}),
		AnomalyTrips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "anomaly_trips_total",
			Help: "Kill switches engaged by the anomaly detector, by reason.",
		}, []string{"reason"}),
		HTTPRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "agentgate", Name: "http_request_duration_seconds",
			Help:    "HTTP requests by route, method and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		DeliveryReplays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "delivery_replays_total",
			Help: "Webhook deliveries answered from the de-duplication record.",
		}, []string{"provider"}),
		EnforcementFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "enforcement_failures_total",
			Help: "Calls to a provider API to enforce a decision that failed after retries.",
		}, []string{"provider", "action"}),
		Redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "redeliveries_total",
			Help: "Failed webhook deliveries agentgate asked the sender to deliver again, by provider and event.",
		}, []string{"provider", "event"}),
		Rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentgate", Name: "rollbacks_total",
			Help: "Finished rollbacks by provider, source (watch, alert, request) and state (succeeded, failed).",
		}, []string{"provider", "source", "state"}),
	}
	m.ShadowDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "agentgate", Name: "shadow_decisions_total",
		Help: "Decisions the shadow policy (policy.shadow_dir) evaluated, by result: same, changed, error, or dropped (its queue was full).",
	}, []string{"result"})
	m.ShadowChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "agentgate", Name: "shadow_changes_total",
		Help: "Decisions the shadow policy would have decided otherwise, by change (\"allow -> deny\", \"deny (other rules)\", ...).",
	}, []string{"change"})
	m.DecisionsInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "agentgate", Name: "decisions_in_flight",
		Help: "Decisions and dry runs being worked on (at most server.max_decisions_in_flight).",
	})
	m.DecisionsQueued = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "agentgate", Name: "decisions_queued",
		Help: "Decisions waiting for a slot (at most server.max_decisions_queued).",
	})
	m.DecisionsShed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "agentgate", Name: "decisions_shed_total",
		Help: "Decisions refused 503 before any work for want of a slot, by reason: queue_full (server.max_decisions_queued were waiting) or wait_ended (the request ended while waiting).",
	}, []string{"reason"})
	m.HTTPConnectionsOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "agentgate", Name: "http_connections_open",
		Help: "Connections the HTTP listener holds open (idle keep-alive connections included).",
	})
	m.HTTPConnectionsMax = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "agentgate", Name: "http_connections_max",
		Help: "The bound on open connections (server.max_connections); beyond it new connections wait in the listen backlog. 0: no bound.",
	})
	m.PolicyHealthy.Set(1)
	reg.MustRegister(m.HTTPConnectionsOpen, m.HTTPConnectionsMax, m.DecisionsInFlight, m.DecisionsQueued, m.DecisionsShed, m.ShadowDecisions, m.ShadowChanges,
		m.Decisions, m.DecisionLatency, m.QuotaRejections, m.Webhooks, m.PolicyReloads,
		m.PolicyHealthy, m.AnomalyTrips, m.LeasesReleased, m.HTTPRequests, m.DeliveryReplays, m.EnforcementFails, m.Redeliveries,
		m.Rollbacks)
	return m
}

// Reasons of agentgate_decisions_shed_total: the waiting line was full,
// or the request ended while it waited.
const (
	ShedQueueFull = "queue_full"
	ShedWaitEnded = "wait_ended"
)

// Label values the series are created with at start, so that a rate, a
// ratio or an alert over them has a zero to start from instead of no data.
var (
	webhookResults = []string{"decided", "ignored", "unauthenticated", "invalid", "too_large", "timeout", "replayed", "error"}
	// verdicts are the (outcome, effective) pairs: enforced, or allowed
	// under warn and dry run.
	verdicts      = [][2]string{{"allow", "allow"}, {"deny", "deny"}, {"approval_required", "approval_required"}, {"deny", "allow"}, {"approval_required", "allow"}}
	rollbackSrcs  = []string{"watch", "alert", "request"}
	rollbackEnds  = []string{"succeeded", "failed"}
	reloadResults = []string{"success", "failure"}
	anomalyKinds  = []string{"denials", "request_rate"}
	enforceKinds  = []string{"enforce", "release"}
	shedReasons   = []string{ShedQueueFull, ShedWaitEnded}
)

// Init creates the series of the known label values at zero: per provider
// its webhook results, decisions by verdict and agent type, decision
// latency, replays, enforcement failures and rollbacks; quota rejections
// by quota and agent type; policy reloads and anomaly trips. A policy's
// other quotas appear with their first rejection.
func (m *Metrics) Init(providers, agentTypes, quotas []string) {
	for _, q := range quotas {
		for _, t := range agentTypes {
			m.QuotaRejections.WithLabelValues(q, t)
		}
	}
	for _, k := range anomalyKinds {
		m.AnomalyTrips.WithLabelValues(k)
	}
	for _, p := range providers {
		for _, r := range webhookResults {
			m.Webhooks.WithLabelValues(p, r)
		}
		for _, v := range verdicts {
			for _, t := range agentTypes {
				m.Decisions.WithLabelValues(p, v[0], v[1], t)
			}
		}
		m.DecisionLatency.WithLabelValues(p)
		m.DeliveryReplays.WithLabelValues(p)
		for _, k := range enforceKinds {
			m.EnforcementFails.WithLabelValues(p, k)
		}
		for _, src := range rollbackSrcs {
			for _, end := range rollbackEnds {
				m.Rollbacks.WithLabelValues(p, src, end)
			}
		}
	}
	for _, r := range reloadResults {
		m.PolicyReloads.WithLabelValues(r)
	}
	for _, r := range shedReasons {
		m.DecisionsShed.WithLabelValues(r)
	}
}

// ActiveKillSwitches counts engaged kill switches; implemented by the
// registry over the store, so the gauge is right on every replica.
type ActiveKillSwitches func(ctx context.Context) (map[string]int, error)

// killSwitchCollector reads the active kill switches from the store at
// scrape time.
type killSwitchCollector struct {
	count ActiveKillSwitches
	desc  *prometheus.Desc
}

// RegisterKillSwitchGauge registers agentgate_killswitches_active{scope}.
func RegisterKillSwitchGauge(reg prometheus.Registerer, count ActiveKillSwitches) {
	reg.MustRegister(&killSwitchCollector{count: count, desc: prometheus.NewDesc(
		"agentgate_killswitches_active", "Kill switches currently engaged, by scope (agent, owner, global).",
		[]string{"scope"}, nil)})
}

// RegisterRegistryCacheGauge exports agentgate_registry_cache_live: 1
// while agents and kill switches are answered from memory, 0 while the
// replica reads them from the store on every decision (its watch of other
// replicas' changes is down).
func RegisterRegistryCacheGauge(reg prometheus.Registerer, live func() bool) {
	registerBoolGauge(reg, "registry_cache_live",
		"1 while agents and kill switches are answered from memory, 0 while every decision reads them from the store (the watch of other replicas' changes is down).", live)
}

// RegisterGroupCommitCounters exports agentgate_store_shared_transactions_total
// and agentgate_store_shared_transaction_decisions_total, read at scrape
// time from stats (the store's BatchStats).
func RegisterGroupCommitCounters(reg prometheus.Registerer, stats func() (batches, calls int64)) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "agentgate", Name: "store_shared_transactions_total",
			Help: "Shared transactions (group commit) committed: one durable commit each."},
			func() float64 { b, _ := stats(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "agentgate", Name: "store_shared_transaction_decisions_total",
			Help: "Decisions (and other shared-transaction calls) committed in shared transactions; divided by agentgate_store_shared_transactions_total, the decisions per durable commit."},
			func() float64 { _, c := stats(); return float64(c) }),
	)
}

// RegisterWorkflowWatchGauge exports agentgate_workflow_watch_synced: 1
// once the Argo Workflow watch's caches have synced, 0 before (RBAC
// refused, API server unreachable).
func RegisterWorkflowWatchGauge(reg prometheus.Registerer, synced func() bool) {
	registerBoolGauge(reg, "workflow_watch_synced",
		"1 when the Argo Workflow watch has synced its caches and releases running-workflow leases, 0 before.", synced)
}

// registerBoolGauge exports agentgate_<name>: 1 while state holds, 0
// otherwise, read at scrape time.
func registerBoolGauge(reg prometheus.Registerer, name, help string, state func() bool) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "agentgate", Name: name, Help: help}, func() float64 {
		if state() {
			return 1
		}
		return 0
	}))
}

func (c *killSwitchCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *killSwitchCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, scope := range []string{"agent", "owner", "global"} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[scope]), scope)
	}
}
