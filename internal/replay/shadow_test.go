package replay

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/policy"
)

type stubCandidate struct {
	d func(policy.Input) (policy.Decision, error)
}

func (s stubCandidate) Evaluate(_ context.Context, in policy.Input) (policy.Result, error) {
	d, err := s.d(in)
	return policy.Result{Decision: d, Revision: "sha256:shadow"}, err
}

func (stubCandidate) Revision() string { return "sha256:shadow" }

type results struct {
	mu   sync.Mutex
	got  map[string]int
	done chan struct{}
	want int
}

func (r *results) add(result, change string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[result+"|"+change]++
	r.want--
	if r.want == 0 {
		close(r.done)
	}
}

func TestShadow(t *testing.T) {
	res := &results{got: map[string]int{}, done: make(chan struct{}), want: 4}
	deny := policy.Decision{Deny: []policy.Reason{{Rule: "capability"}}}
	s := NewShadow(ShadowOptions{OnResult: res.add, Candidate: stubCandidate{d: func(in policy.Input) (policy.Decision, error) {
		switch in.Event.Repo {
		case "same":
			return policy.Decision{Allow: true}, nil
		case "broken":
			return policy.Decision{}, errors.New("undefined")
		}
		return deny, nil
	}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	in := func(repo string) policy.Input {
		var i policy.Input
		i.Event.Repo = repo
		return i
	}
	s.Observe(in("same"), policy.Decision{Allow: true})
	s.Observe(in("deny"), policy.Decision{Allow: true})
	s.Observe(in("broken"), policy.Decision{Allow: true})
	s.Observe(in("deny"), policy.Decision{Deny: []policy.Reason{{Rule: "scope.environment"}}})
	select {
	case <-res.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("shadow results %v", res.got)
	}
	want := map[string]int{"same|": 1, "changed|allow -> deny": 1, "error|": 1, "changed|deny (other rules)": 1}
	for k, n := range want {
		if res.got[k] != n {
			t.Fatalf("results %v, want %v", res.got, want)
		}
	}
}

// TestShadowNeverBlocks: with nobody running the shadow and its queue
// full, a decision's Observe returns at once and the drop is counted.
func TestShadowNeverBlocks(t *testing.T) {
	var dropped int
	s := NewShadow(ShadowOptions{Queue: 2, OnResult: func(result, _ string) {
		if result == ShadowDropped {
			dropped++
		}
	}, Candidate: stubCandidate{d: func(policy.Input) (policy.Decision, error) { return policy.Decision{Allow: true}, nil }}})
	done := make(chan struct{})
	go func() {
		for range 5 {
			s.Observe(policy.Input{}, policy.Decision{Allow: true})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked on a full queue")
	}
	if dropped != 3 {
		t.Fatalf("dropped %d of 5 with a queue of 2", dropped)
	}
}
