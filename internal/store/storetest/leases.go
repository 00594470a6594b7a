package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func testLeaderLease(t *testing.T, s suite) {
	t.Run("one holder until expiry or release", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		base := baseTime()
		steps := []struct {
			name    string
			holder  string
			at      time.Duration
			release bool
			want    bool
		}{
			{name: "a takes the free lease", holder: "a", want: true},
			{name: "b is refused while a holds it", holder: "b", at: 10 * time.Second, want: false},
			{name: "a renews", holder: "a", at: 20 * time.Second, want: true},
			{name: "b is refused before the renewed expiry", holder: "b", at: 40 * time.Second, want: false},
			{name: "b takes it once expired", holder: "b", at: 51 * time.Second, want: true},
			{name: "a is refused now", holder: "a", at: 52 * time.Second, want: false},
			{name: "a cannot release b's lease", holder: "a", release: true},
			{name: "a is still refused", holder: "a", at: 53 * time.Second, want: false},
			{name: "b releases", holder: "b", release: true},
			{name: "a takes the released lease", holder: "a", at: 54 * time.Second, want: true},
		}
		for _, step := range steps {
			if step.release {
				must(t, st.ReleaseLeader(ctx, "janitor", step.holder))
				continue
			}
			got, err := st.AcquireLeader(ctx, "janitor", step.holder, 30*time.Second, base.Add(step.at))
			must(t, err)
			if got != step.want {
				t.Fatalf("%s: acquired=%v, want %v", step.name, got, step.want)
			}
		}
		got, err := st.AcquireLeader(ctx, "other-lease", "b", 30*time.Second, base)
		must(t, err)
		if !got {
			t.Fatal("a differently named lease was not free")
		}
	})

	t.Run("concurrent candidates: exactly one leads", func(t *testing.T) {
		st := s.open(t)
		const candidates = 16
		var leaders atomic.Int64
		concurrently(candidates, func(i int) {
			ok, err := st.AcquireLeader(t.Context(), "janitor", fmt.Sprintf("replica-%d", i), time.Minute, baseTime())
			if err != nil {
				t.Errorf("acquire: %v", err)
			}
			if ok {
				leaders.Add(1)
			}
		})
		if leaders.Load() != 1 {
			t.Fatalf("%d leaders, want 1", leaders.Load())
		}
	})
}
