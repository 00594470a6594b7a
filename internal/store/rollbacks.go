package store

import (
	"context"
	"strings"
	"time"
)

// The rollback engine's records: watches of deployments, rollbacks and
// incidents. They sit here, below the engine, so that the store persists
// them as it persists every other record (Queries includes their roles)
// and internal/rollback holds only behaviour.

// WatchState is where a rollback watch is in its life.
type WatchState string

// Watch states. A watch is live (still evaluated) until Ended is set;
// watching and no_data occur while live, no_data is also a final state
// (a window that ended without data), the others are final.
const (
	// WatchWatching: readings are being taken and none has tripped it.
	WatchWatching WatchState = "watching"
	// WatchNoData: the last NoDataAfter readings had no data. The watch
	// stays live and returns to watching when data comes back; a window
	// that ends in this state ends as no_data, not passed.
	WatchNoData WatchState = "no_data"
	// WatchTripped: TripAfter consecutive breaches; a rollback is due or
	// another rollback for the same target is already running.
	WatchTripped WatchState = "tripped"
	// WatchPassed: the window ended without a trip, with data.
	WatchPassed WatchState = "passed"
	// WatchRolledBack: the rollback the watch started succeeded.
	WatchRolledBack WatchState = "rolled_back"
	// WatchFailed: the rollback the watch started failed.
	WatchFailed WatchState = "failed"
)

// Defaults applied by Watch.Normalize to unset fields.
const (
	WatchDefaultTripAfter   = 3
	WatchDefaultNoDataAfter = 3
	WatchDefaultInterval    = 30 * time.Second
	WatchDefaultWindow      = 15 * time.Minute
	// WatchMaxReadings bounds Watch.Readings; older readings are dropped.
	WatchMaxReadings = 240
)

// Reading is one evaluation of a watch's query.
type Reading struct {
	At time.Time `json:"at"`
	// Value is the error ratio; meaningful only when HasData.
	Value   float64 `json:"value"`
	HasData bool    `json:"has_data"`
	// Error is the query error that made this reading empty, if any.
	Error string `json:"error,omitempty"`
}

// Watch follows one deployment's error rate for a window of time.
type Watch struct {
	ID          string `json:"id"`
	Provider    string `json:"provider"`
	Repo        string `json:"repo"`
	Environment string `json:"environment"`
	Namespace   string `json:"namespace,omitempty"`
	App         string `json:"app,omitempty"`
	AgentID     string `json:"agent_id,omitempty"`
	// DeploymentID is the watched deployment (store.Deployment.ID) and SHA
	// its commit.
	DeploymentID string `json:"deployment_id"`
	SHA          string `json:"sha,omitempty"`
	// PreviousDeploymentID and PreviousSHA name the deployment a rollback
	// returns to; empty when there was none when the watch was opened.
	PreviousDeploymentID string `json:"previous_deployment_id,omitempty"`
	PreviousSHA          string `json:"previous_sha,omitempty"`
	// Query is a PromQL template (see RenderQuery) giving an error ratio.
	Query string `json:"query"`
	// Threshold trips on an absolute error ratio above it; 0 disables it.
	Threshold float64 `json:"threshold,omitempty"`
	// BaselineFactor trips on a value above Baseline × BaselineFactor; it
	// is ignored when either is 0.
	BaselineFactor float64 `json:"baseline_factor,omitempty"`
	// Baseline is the error ratio measured at deploy time.
	Baseline float64 `json:"baseline"`
	// Breaches counts consecutive breaching readings.
	Breaches int `json:"breaches"`
	// TripAfter is how many consecutive breaches trip the watch.
	TripAfter int `json:"trip_after"`
	// Gaps counts consecutive readings without data; NoDataAfter of them
	// put the watch in WatchNoData.
	Gaps        int `json:"gaps"`
	NoDataAfter int `json:"no_data_after"`
	// Window is how long the watch runs and Interval how often it reads.
	Window    time.Duration `json:"window"`
	Interval  time.Duration `json:"interval"`
	StartedAt time.Time     `json:"started_at"`
	EndsAt    time.Time     `json:"ends_at"`
	// NextAt is when the watch is next due.
	NextAt time.Time  `json:"next_at"`
	State  WatchState `json:"state"`
	// Ended is set when the watch reaches a final state; a store's due
	// watches are those not Ended with NextAt passed.
	Ended bool `json:"ended"`
	// Detail explains the state (the breach, the rollback id, the error).
	Detail string `json:"detail,omitempty"`
	// RollbackID is the rollback the watch started or joined.
	RollbackID string    `json:"rollback_id,omitempty"`
	Readings   []Reading `json:"readings,omitempty"`
}

// Live reports whether the watch is still evaluated.
func (w *Watch) Live() bool { return !w.Ended }

// Normalize fills unset TripAfter, NoDataAfter, Interval, Window, State,
// EndsAt and NextAt from StartedAt and the defaults.
func (w *Watch) Normalize() {
	if w.TripAfter <= 0 {
		w.TripAfter = WatchDefaultTripAfter
	}
	if w.NoDataAfter <= 0 {
		w.NoDataAfter = WatchDefaultNoDataAfter
	}
	if w.Interval <= 0 {
		w.Interval = WatchDefaultInterval
	}
	if w.Window <= 0 {
		w.Window = WatchDefaultWindow
	}
	if w.State == "" {
		w.State = WatchWatching
	}
	if w.EndsAt.IsZero() {
		w.EndsAt = w.StartedAt.Add(w.Window)
	}
	if w.NextAt.IsZero() {
		w.NextAt = w.StartedAt.Add(w.Interval)
	}
}

// RollbackState is where a rollback is.
type RollbackState string

// Rollback states.
const (
	RollbackPending   RollbackState = "pending"
	RollbackRunning   RollbackState = "running"
	RollbackSucceeded RollbackState = "succeeded"
	RollbackFailed    RollbackState = "failed"
	// RollbackNotified is the state of an agentgate_action=notify alert's
	// outcome: reported, never stored or executed.
	RollbackNotified RollbackState = "notified"
)

// Active reports whether a rollback in this state blocks another one for
// the same target.
func (s RollbackState) Active() bool { return s == RollbackPending || s == RollbackRunning }

// Rollback is one rollback of a target to an earlier deployment.
type Rollback struct {
	ID string `json:"id"`
	// Key is Target.Key(): at most one active rollback per key.
	Key    string         `json:"key"`
	Target RollbackTarget `json:"target"`
	// WatchID is the watch that tripped, for RollbackSourceWatch.
	WatchID     string `json:"watch_id,omitempty"`
	RequestedBy string `json:"requested_by,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// From is the deployment rolled back (the newest when requested).
	FromDeploymentID string `json:"from_deployment_id,omitempty"`
	FromSHA          string `json:"from_sha,omitempty"`
	FromAgentID      string `json:"from_agent_id,omitempty"`
	// To is the deployment rolled back to.
	To        Deployment     `json:"to"`
	State     RollbackState  `json:"state"`
	Result    RollbackResult `json:"result"`
	Error     string         `json:"error,omitempty"`
	Attempts  int            `json:"attempts,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// Rollback sources.
const (
	RollbackSourceWatch   = "watch"
	RollbackSourceAlert   = "alert"
	RollbackSourceRequest = "request"
)

// RollbackTarget is what to roll back: one provider's repository (or Argo CD
// application) in one environment.
type RollbackTarget struct {
	Provider string `json:"provider"`
	// Repo is the repository as deployments record it; for Argo CD the
	// application when no repo is known.
	Repo        string `json:"repo"`
	App         string `json:"app,omitempty"`
	Environment string `json:"environment"`
	Namespace   string `json:"namespace,omitempty"`
	// Action is ActionRollback or ActionNotify.
	Action string `json:"action,omitempty"`
	// Source is RollbackSourceWatch, RollbackSourceAlert or RollbackSourceRequest.
	Source string `json:"source,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Fingerprint and StartsAt identify the alert of an alert target.
	Fingerprint string    `json:"fingerprint,omitempty"`
	StartsAt    time.Time `json:"starts_at,omitzero"`
}

// Key identifies the target for de-duplication: provider, repo and
// environment (case-insensitive for the provider).
func (t RollbackTarget) Key() string {
	return strings.ToLower(t.Provider) + "\x00" + t.Repo + "\x00" + t.Environment
}

// DefaultIncidentWindow is how long an incident stays open after its last
// trigger (or its alert's resolution) when Config.IncidentWindow is unset.
const DefaultIncidentWindow = 30 * time.Minute

// Incident is one spike after one deployment. Every automatic trigger of
// a rollback of that deployment while the incident is open joins it: a
// repeat notification of a firing alert, another alert of the same group,
// a flap (the alert resolves and fires again), a watch that trips on the
// same spike. An incident has one rollback, and so one consequence for the
// agent. SRE requests through the API are not incidents: a person who asks
// again is asking again.
type Incident struct {
	// Key is IncidentKey of the target and the deployment rolled back.
	Key string `json:"key"`
	// TargetKey is Target.Key() of the target.
	TargetKey    string `json:"target_key"`
	DeploymentID string `json:"deployment_id"`
	// RollbackID is the incident's one rollback.
	RollbackID string    `json:"rollback_id"`
	OpenedAt   time.Time `json:"opened_at"`
	// LastAt is the last trigger, or the resolution of the incident's
	// alerts, whichever came later.
	LastAt time.Time `json:"last_at"`
	// Firing is set while an alert of the incident is firing: set by an
	// alert trigger, cleared when Alertmanager reports the target's alerts
	// resolved. A firing incident stays open however long Alertmanager's
	// repeat_interval is.
	Firing bool `json:"firing"`
	// Triggers counts the triggers that opened or joined the incident.
	Triggers int `json:"triggers"`
	// Sources lists the kinds of trigger seen (alert, watch), each once.
	Sources []string `json:"sources,omitempty"`
}

// IncidentKey identifies an incident: the target (provider, repo and
// environment) and the deployment rolled back.
func IncidentKey(t RollbackTarget, deploymentID string) string {
	return t.Key() + "\x00" + deploymentID
}

// Open reports whether a trigger at now joins the incident: while an
// alert of it fires, and for window after its last trigger or resolution.
func (i *Incident) Open(now time.Time, window time.Duration) bool {
	return i.Firing || now.Before(i.LastAt.Add(window))
}

// Join records a trigger of source at now.
func (i *Incident) Join(now time.Time, source string) {
	i.Triggers++
	if now.After(i.LastAt) {
		i.LastAt = now
	}
	if source == RollbackSourceAlert {
		i.Firing = true
	}
	for _, s := range i.Sources {
		if s == source {
			return
		}
	}
	i.Sources = append(i.Sources, source)
}

// Resolve records that the incident's alerts resolved at at.
func (i *Incident) Resolve(at time.Time) {
	i.Firing = false
	if at.After(i.LastAt) {
		i.LastAt = at
	}
}

// NewIncident opens an incident of the deployment with rollback r.
func NewIncident(r Rollback, now time.Time) Incident {
	i := Incident{Key: IncidentKey(r.Target, r.FromDeploymentID), TargetKey: r.Target.Key(),
		DeploymentID: r.FromDeploymentID, RollbackID: r.ID, OpenedAt: now, LastAt: now}
	i.Join(now, r.Target.Source)
	return i
}

// String names the incident for logs: repo, environment and deployment.
func (i Incident) String() string {
	return strings.ReplaceAll(i.Key, "\x00", " ")
}

// RollbackResult is what a provider's rollback executor did.
type RollbackResult struct {
	Provider string `json:"provider"`
	// Method names the mechanism: "rerun", "dispatch", "job_retry",
	// "argocd_rollback".
	Method string `json:"method"`
	// Ref is the provider's handle of what was started (a run id, a job
	// id, a history id).
	Ref string `json:"ref,omitempty"`
	// URL links to it when the provider returned one.
	URL string `json:"url,omitempty"`
	// Steps lists the calls made, in order, for the audit record
	// (for example that Argo CD auto-sync was switched off first).
	Steps []string `json:"steps,omitempty"`
}

// WatchStore persists watches. Tick runs on the leader only, so updates of
// one watch do not race across replicas.
type WatchStore interface {
	// CreateWatch stores a new watch; ErrConflict if the id exists
	// or a live watch exists for the same DeploymentID.
	CreateWatch(ctx context.Context, w Watch) error
	// UpdateWatch replaces a stored watch; ErrNotFound if absent.
	UpdateWatch(ctx context.Context, w Watch) error
	// GetWatch returns a watch or ErrNotFound.
	GetWatch(ctx context.Context, id string) (Watch, error)
	// DueWatches returns up to limit live watches (not Ended) with
	// NextAt at or before now, earliest NextAt first.
	DueWatches(ctx context.Context, now time.Time, limit int) ([]Watch, error)
	// ListWatches returns up to limit watches (all when limit is not
	// positive), live ones only when live is set, earliest NextAt first.
	ListWatches(ctx context.Context, live bool, limit int) ([]Watch, error)
}

// RollbackStore persists rollbacks. CreateRollback and ClaimRollback must
// be atomic across replicas (a unique index on Key over active rows, a
// conditional update): they are what stops one target being rolled back
// twice at once.
type RollbackStore interface {
	// CreateRollback stores r unless an active (pending or running)
	// rollback with the same Key exists; then that one is returned and
	// created is false.
	CreateRollback(ctx context.Context, r Rollback) (stored Rollback, created bool, err error)
	// GetRollback returns a rollback or ErrNotFound.
	GetRollback(ctx context.Context, id string) (Rollback, error)
	// ClaimRollback moves a pending rollback to running and returns it;
	// claimed is false (and the stored rollback returned) when it was not
	// pending. ErrNotFound if absent.
	ClaimRollback(ctx context.Context, id string, at time.Time) (r Rollback, claimed bool, err error)
	// UpdateRollback replaces a stored rollback; ErrNotFound if absent.
	UpdateRollback(ctx context.Context, r Rollback) error
	// PendingRollbacks returns up to limit pending rollbacks, oldest first.
	PendingRollbacks(ctx context.Context, limit int) ([]Rollback, error)
	// ListRollbacks returns up to limit rollbacks in every state, newest
	// first (all of them when limit is not positive).
	ListRollbacks(ctx context.Context, limit int) ([]Rollback, error)
}

// IncidentStore groups automatic rollbacks into incidents (see Incident).
// OpenIncident must be atomic across replicas: two replicas given the same
// alert at once start one rollback.
type IncidentStore interface {
	// OpenIncident records an automatic trigger, at now, of rollback r of
	// deployment r.FromDeploymentID. If that deployment's incident is open
	// (Incident.Open with window) the trigger joins it: the incident is
	// updated and its rollback returned with created false. Otherwise r is
	// stored as by CreateRollback and a new incident, replacing a closed
	// one, is opened with the rollback stored.
	OpenIncident(ctx context.Context, r Rollback, now time.Time, window time.Duration) (stored Rollback, inc Incident, created bool, err error)
	// ResolveIncidents marks the firing incidents of a target (its
	// Target.Key) resolved at at and returns how many there were.
	ResolveIncidents(ctx context.Context, targetKey string, at time.Time) (int, error)
	// GetIncident returns an incident by key or ErrNotFound.
	GetIncident(ctx context.Context, key string) (Incident, error)
}
