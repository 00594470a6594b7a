package rollback

import (
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// The engine's records are defined in internal/store, below the engine;
// these names are the engine's words for them.

// Watch follows one deployment's error rate for a window of time.
type Watch = store.Watch

// Reading is one evaluation of a watch's query.
type Reading = store.Reading

// State is where a watch is in its life (see store.WatchState).
type State = store.WatchState

// Watch states.
const (
	StateWatching   = store.WatchWatching
	StateNoData     = store.WatchNoData
	StateTripped    = store.WatchTripped
	StatePassed     = store.WatchPassed
	StateRolledBack = store.WatchRolledBack
	StateFailed     = store.WatchFailed
)

// Watch defaults (see store.Watch.Normalize).
const (
	DefaultTripAfter   = store.WatchDefaultTripAfter
	DefaultNoDataAfter = store.WatchDefaultNoDataAfter
	DefaultInterval    = store.WatchDefaultInterval
	DefaultWindow      = store.WatchDefaultWindow
	MaxReadings        = store.WatchMaxReadings
)

// Rollback is one rollback of a target to an earlier deployment.
type Rollback = store.Rollback

// RollbackState is where a rollback is.
type RollbackState = store.RollbackState

// Rollback states.
const (
	RollbackPending   = store.RollbackPending
	RollbackRunning   = store.RollbackRunning
	RollbackSucceeded = store.RollbackSucceeded
	RollbackFailed    = store.RollbackFailed
	RollbackNotified  = store.RollbackNotified
)

// Target is what to roll back.
type Target = store.RollbackTarget

// Rollback sources.
const (
	SourceWatch   = store.RollbackSourceWatch
	SourceAlert   = store.RollbackSourceAlert
	SourceRequest = store.RollbackSourceRequest
)

// Result is what an executor did.
type Result = store.RollbackResult

// Incident is one spike after one deployment (see store.Incident).
type Incident = store.Incident

// DefaultIncidentWindow is how long an incident stays open after its last
// trigger when Config.IncidentWindow is unset.
const DefaultIncidentWindow time.Duration = store.DefaultIncidentWindow

// IncidentKey identifies an incident: the target and the deployment
// rolled back.
func IncidentKey(t Target, deploymentID string) string { return store.IncidentKey(t, deploymentID) }

// NewIncident opens an incident of the deployment with rollback r.
func NewIncident(r Rollback, now time.Time) Incident { return store.NewIncident(r, now) }
