package rollback

import (
	"errors"
	"fmt"
	"math"
)

// ValidateWatch checks a watch can be evaluated.
func ValidateWatch(w *Watch) error {
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
