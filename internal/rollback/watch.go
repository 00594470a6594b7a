package rollback

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// State is where a watch is in its life.
type State string

// Watch states. A watch is live (still evaluated) until Ended is set;
// watching and no_data occur while live, no_data is also a final state
// (a window that ended without data), the others are final.
const (
	// StateWatching: readings are being taken and none has tripped it.
	StateWatching State = "watching"
	// StateNoData: the last NoDataAfter readings had no data. The watch
	// stays live and returns to watching when data comes back; a window
	// that ends in this state ends as no_data, not passed.
	StateNoData State = "no_data"
	// StateTripped: TripAfter consecutive breaches; a rollback is due or
	// another rollback for the same target is already running.
	StateTripped State = "tripped"
	// StatePassed: the window ended without a trip, with data.
	StatePassed State = "passed"
	// StateRolledBack: the rollback the watch started succeeded.
	StateRolledBack State = "rolled_back"
	// StateFailed: the rollback the watch started failed.
	StateFailed State = "failed"
)

// Defaults applied by Watch.Normalize to unset fields.
const (
	DefaultTripAfter   = 3
	DefaultNoDataAfter = 3
	DefaultInterval    = 30 * time.Second
	DefaultWindow      = 15 * time.Minute
	// MaxReadings bounds Watch.Readings; older readings are dropped.
	MaxReadings = 240
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
	// put the watch in StateNoData.
	Gaps        int `json:"gaps"`
	NoDataAfter int `json:"no_data_after"`
	// Window is how long the watch runs and Interval how often it reads.
	Window    time.Duration `json:"window"`
	Interval  time.Duration `json:"interval"`
	StartedAt time.Time     `json:"started_at"`
	EndsAt    time.Time     `json:"ends_at"`
	// NextAt is when the watch is next due.
	NextAt time.Time `json:"next_at"`
	State  State     `json:"state"`
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
		w.TripAfter = DefaultTripAfter
	}
	if w.NoDataAfter <= 0 {
		w.NoDataAfter = DefaultNoDataAfter
	}
	if w.Interval <= 0 {
		w.Interval = DefaultInterval
	}
	if w.Window <= 0 {
		w.Window = DefaultWindow
	}
	if w.State == "" {
		w.State = StateWatching
	}
	if w.EndsAt.IsZero() {
		w.EndsAt = w.StartedAt.Add(w.Window)
	}
	if w.NextAt.IsZero() {
		w.NextAt = w.StartedAt.Add(w.Interval)
	}
}

// Validate checks a watch can be evaluated.
func (w *Watch) Validate() error {
	var errs []error
	if w.ID == "" {
		errs = append(errs, errors.New("watch has no id"))
	}
	if w.Provider == "" || w.Repo == "" || w.Environment == "" {
		errs = append(errs, errors.New("watch needs a provider, a repo and an environment"))
	}
	if w.Query == "" {
		errs = append(errs, errors.New("watch has no query"))
	} else if _, err := parseQuery(w.Query); err != nil {
		errs = append(errs, err)
	}
	if w.Threshold < 0 || w.BaselineFactor < 0 || math.IsNaN(w.Threshold) || math.IsNaN(w.BaselineFactor) {
		errs = append(errs, errors.New("threshold and baseline factor must not be negative"))
	}
	if w.Threshold == 0 && w.BaselineFactor == 0 {
		errs = append(errs, errors.New("watch needs a threshold or a baseline factor"))
	}
	return errors.Join(errs...)
}

// Decision is what Step concluded from one reading.
type Decision struct {
	// State is the watch's state after the reading.
	State State
	// Breach is true when the reading breached a limit.
	Breach bool
	// NoData is true when the reading had no data: surfaced to the caller
	// so that missing data is reported, never silently passed.
	NoData bool
	// Trip is true when this reading tripped the watch: roll back.
	Trip bool
	// Done is true when the watch reached a final state with this reading
	// (or was already in one).
	Done bool
	// Reason explains the decision.
	Reason string
}

// Step evaluates one reading against the watch and updates it: it appends
// the reading, counts consecutive breaches (a value above Threshold, or
// above Baseline × BaselineFactor when both are set) and trips after
// TripAfter of them. A reading without data (or a NaN value, which is what
// an error ratio gives when there is no traffic) neither counts as a
// breach nor resets the count; after NoDataAfter consecutive empty readings
// the watch is in StateNoData. When the reading is at or after EndsAt and
// did not trip the watch, it ends as passed, or as no_data if it was in
// StateNoData or never saw data. A watch in a final state is not changed.
func Step(w *Watch, r Reading) Decision {
	if w.Ended {
		return Decision{State: w.State, Done: true, Reason: "watch already " + string(w.State)}
	}
	tripAfter := max(w.TripAfter, 1)
	noDataAfter := max(w.NoDataAfter, 1)
	if r.HasData && math.IsNaN(r.Value) {
		r.HasData, r.Value = false, 0
	}
	w.Readings = append(w.Readings, r)
	if n := len(w.Readings) - MaxReadings; n > 0 {
		w.Readings = append(w.Readings[:0:0], w.Readings[n:]...)
	}
	var d Decision
	if !r.HasData {
		d.NoData = true
		w.Gaps++
		d.Reason = fmt.Sprintf("no data (%d consecutive)", w.Gaps)
		if r.Error != "" {
			d.Reason += ": " + r.Error
		}
		if w.Gaps >= noDataAfter {
			w.State = StateNoData
		}
	} else {
		w.Gaps = 0
		if w.State == StateNoData {
			w.State = StateWatching
		}
		if why, breach := breached(w, r.Value); breach {
			d.Breach = true
			w.Breaches++
			d.Reason = fmt.Sprintf("%s (%d of %d consecutive)", why, w.Breaches, tripAfter)
			if w.Breaches >= tripAfter {
				w.State, w.Ended = StateTripped, true
				d.Trip, d.Done = true, true
			}
		} else {
			w.Breaches = 0
			d.Reason = fmt.Sprintf("error ratio %.4g within limits", r.Value)
		}
	}
	if !d.Trip && !w.EndsAt.IsZero() && !r.At.Before(w.EndsAt) {
		d.Done, w.Ended = true, true
		if w.State == StateNoData || !sawData(w) {
			w.State = StateNoData
			d.Reason = "window ended without data: " + d.Reason
		} else {
			w.State = StatePassed
			d.Reason = "window ended without a trip: " + d.Reason
		}
	}
	if w.State == "" {
		w.State = StateWatching
	}
	d.State = w.State
	w.Detail = d.Reason
	return d
}

// breached says whether v breaches the watch's limits, and which.
func breached(w *Watch, v float64) (string, bool) {
	if w.Threshold > 0 && v > w.Threshold {
		return fmt.Sprintf("error ratio %.4g above threshold %.4g", v, w.Threshold), true
	}
	if w.Baseline > 0 && w.BaselineFactor > 0 && v > w.Baseline*w.BaselineFactor {
		return fmt.Sprintf("error ratio %.4g above baseline %.4g × %.4g", v, w.Baseline, w.BaselineFactor), true
	}
	return "", false
}

// sawData reports whether any kept reading had data.
func sawData(w *Watch) bool {
	for _, r := range w.Readings {
		if r.HasData {
			return true
		}
	}
	return false
}
