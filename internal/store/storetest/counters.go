package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
)

func testCounters(t *testing.T, s suite) {
	t.Run("fixed windows", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		base := baseTime() // on a minute boundary
		steps := []struct {
			name string
			key  string
			at   time.Duration
			want int64
		}{
			{name: "first", key: "k", want: 1},
			{name: "same window", key: "k", at: 30 * time.Second, want: 2},
			{name: "end of window", key: "k", at: time.Minute - time.Microsecond, want: 3},
			{name: "other key", key: "j", at: time.Second, want: 1},
			{name: "next window", key: "k", at: time.Minute, want: 1},
			{name: "next window again", key: "k", at: 90 * time.Second, want: 2},
		}
		for _, step := range steps {
			n, err := st.IncrCounter(ctx, step.key, time.Minute, base.Add(step.at))
			must(t, err)
			if n != step.want {
				t.Fatalf("%s: count %d, want %d", step.name, n, step.want)
			}
		}
		purged, err := st.PurgeCounters(ctx, base.Add(time.Minute+time.Second))
		must(t, err)
		equal(t, "purged windows", purged, int64(2))
		n, err := st.IncrCounter(ctx, "k", time.Minute, base.Add(100*time.Second))
		must(t, err)
		equal(t, "count in the kept window", n, int64(3))
		_, err = st.IncrCounter(ctx, "k", 0, base)
		wantKind(t, err, apperr.KindInvalid)
	})

	t.Run("concurrent increments are atomic", func(t *testing.T) {
		st := s.open(t)
		const n = 25
		var mu sync.Mutex
		var got []int64
		concurrently(n, func(int) {
			v, err := st.IncrCounter(t.Context(), "hot", time.Hour, baseTime())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("increment: %v", err)
				return
			}
			got = append(got, v)
		})
		slices.Sort(got)
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(i + 1)
		}
		equal(t, "counts handed out", got, want)
	})
}
