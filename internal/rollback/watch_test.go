package rollback

import (
	"math"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	val := func(i int, v float64) Reading { return Reading{At: at(i), Value: v, HasData: true} }
	empty := func(i int) Reading { return Reading{At: at(i)} }
	base := func() *Watch {
		return &Watch{ID: "w", Threshold: 0.05, BaselineFactor: 3, Baseline: 0.01, TripAfter: 3, NoDataAfter: 2,
			StartedAt: t0, EndsAt: at(10), State: StateWatching}
	}
	tests := []struct {
		name       string
		watch      func() *Watch
		readings   []Reading
		wantState  State
		wantTrip   bool // on the last reading
		wantNoData bool // on the last reading
		wantDone   bool
		wantBreach int
	}{
		{"flat rate keeps watching", base, []Reading{val(1, 0.01), val(2, 0.012), val(3, 0.009)}, StateWatching, false, false, false, 0},
		{"trips after three breaches", base, []Reading{val(1, 0.2), val(2, 0.2), val(3, 0.2)}, StateTripped, true, false, true, 3},
		{"two breaches do not trip", base, []Reading{val(1, 0.2), val(2, 0.2)}, StateWatching, false, false, false, 2},
		{"a good reading resets the count", base, []Reading{val(1, 0.2), val(2, 0.2), val(3, 0.01), val(4, 0.2)}, StateWatching, false, false, false, 1},
		{"baseline factor breach", base, []Reading{val(1, 0.04), val(2, 0.04), val(3, 0.04)}, StateTripped, true, false, true, 3},
		{"baseline ignored when zero", func() *Watch { w := base(); w.Baseline = 0; return w },
			[]Reading{val(1, 0.04), val(2, 0.04), val(3, 0.04)}, StateWatching, false, false, false, 0},
		{"threshold disabled uses baseline only", func() *Watch { w := base(); w.Threshold = 0; return w },
			[]Reading{val(1, 0.02), val(2, 0.031)}, StateWatching, false, false, false, 1},
		{"missing data never trips", base, []Reading{val(1, 0.2), val(2, 0.2), empty(3), empty(4), empty(5)}, StateNoData, false, true, false, 2},
		{"missing data neither counts nor resets", base, []Reading{val(1, 0.2), val(2, 0.2), empty(3), val(4, 0.2)}, StateTripped, true, false, true, 3},
		{"one gap is reported but not no_data", base, []Reading{val(1, 0.01), empty(2)}, StateWatching, false, true, false, 0},
		{"data returns after no_data", base, []Reading{empty(1), empty(2), val(3, 0.01)}, StateWatching, false, false, false, 0},
		{"NaN is no data", base, []Reading{val(1, math.NaN()), val(2, math.NaN())}, StateNoData, false, true, false, 0},
		{"passes at the end of the window", base, []Reading{val(1, 0.01), val(10, 0.01)}, StatePassed, false, false, true, 0},
		{"ends no_data when the window ends without data", base, []Reading{empty(1), empty(10)}, StateNoData, false, true, true, 0},
		{"ends no_data when only the last reading is missing after no_data", base, []Reading{val(1, 0.01), empty(8), empty(9), empty(10)}, StateNoData, false, true, true, 0},
		{"trip at the end of the window still trips", base, []Reading{val(8, 0.3), val(9, 0.3), val(10, 0.3)}, StateTripped, true, false, true, 3},
		{"final state is not changed", func() *Watch { w := base(); w.State, w.Ended = StatePassed, true; return w },
			[]Reading{val(1, 0.9)}, StatePassed, false, false, true, 0},
		{"TripAfter zero means one", func() *Watch { w := base(); w.TripAfter = 0; return w },
			[]Reading{val(1, 0.06)}, StateTripped, true, false, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.watch()
			var d Decision
			for _, r := range tc.readings {
				d = Step(w, r)
			}
			if w.State != tc.wantState || d.State != tc.wantState {
				t.Errorf("state = %s (decision %s), want %s; reason %q", w.State, d.State, tc.wantState, d.Reason)
			}
			if d.Trip != tc.wantTrip || d.NoData != tc.wantNoData || d.Done != tc.wantDone {
				t.Errorf("decision = %+v, want trip %v no data %v done %v", d, tc.wantTrip, tc.wantNoData, tc.wantDone)
			}
			if w.Breaches != tc.wantBreach {
				t.Errorf("breaches = %d, want %d", w.Breaches, tc.wantBreach)
			}
			if w.Ended != tc.wantDone {
				t.Errorf("ended = %v, want %v", w.Ended, tc.wantDone)
			}
			if d.Reason == "" {
				t.Error("decision has no reason")
			}
		})
	}
}

func TestStepBoundsReadings(t *testing.T) {
	w := &Watch{Threshold: 0.5, TripAfter: 1}
	for i := range MaxReadings + 10 {
		Step(w, Reading{At: time.Unix(int64(i), 0), Value: 0.1, HasData: true})
	}
	if len(w.Readings) != MaxReadings || w.Readings[0].At.Unix() != 10 {
		t.Fatalf("kept %d readings from %v", len(w.Readings), w.Readings[0].At)
	}
}

func TestWatchValidate(t *testing.T) {
	ok := Watch{ID: "w", Provider: "github", Repo: "o/r", Environment: "prod", Query: `x{app="{{.App}}"}`, Threshold: 0.1}
	tests := []struct {
		name   string
		mutate func(*Watch)
		ok     bool
	}{
		{"valid", func(*Watch) {}, true},
		{"no limits", func(w *Watch) { w.Threshold = 0 }, false},
		{"negative", func(w *Watch) { w.BaselineFactor = -1 }, false},
		{"bad template", func(w *Watch) { w.Query = "{{.App" }, false},
		{"no environment", func(w *Watch) { w.Environment = "" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := ok
			tc.mutate(&w)
			if err := ValidateWatch(&w); (err == nil) != tc.ok {
				t.Fatalf("ValidateWatch = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
