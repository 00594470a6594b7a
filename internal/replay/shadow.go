package replay

import (
	"context"
	"log/slog"

	"github.com/agentgate/agentgate/internal/policy"
)

// Shadow results, as counted.
const (
	ShadowSame    = "same"
	ShadowChanged = "changed"
	ShadowError   = "error"
	// ShadowDropped: the queue was full; the decision was not shadowed.
	ShadowDropped = "dropped"
)

// Candidate is a policy set evaluated in the shadow; policy.Engine is one.
type Candidate interface {
	Evaluate(ctx context.Context, in policy.Input) (policy.Result, error)
	Revision() string
}

var _ Candidate = (*policy.Engine)(nil)

// ShadowOptions configure a Shadow.
type ShadowOptions struct {
	Candidate Candidate
	// Queue is how many decisions may wait to be shadowed (1024 when
	// zero); more are dropped, never waited for.
	Queue int
	// OnResult is told each outcome: result is one of the Shadow*
	// constants, change the outcome change ("allow -> deny") when the
	// result is changed.
	OnResult func(result, change string)
	Logger   *slog.Logger
}

// Shadow evaluates a candidate policy on every decision's input beside
// the live policy, on its own goroutine: a decision never waits for it.
type Shadow struct {
	o    ShadowOptions
	jobs chan shadowJob
}

type shadowJob struct {
	in   policy.Input
	live Summary
}

// NewShadow returns a Shadow; Run evaluates what Observe queues.
func NewShadow(o ShadowOptions) *Shadow {
	if o.Queue <= 0 {
		o.Queue = 1024
	}
	if o.OnResult == nil {
		o.OnResult = func(string, string) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Shadow{o: o, jobs: make(chan shadowJob, o.Queue)}
}

// Candidate is the shadow policy set.
func (s *Shadow) Candidate() Candidate { return s.o.Candidate }

// Observe queues one decision for the shadow, or drops it when the queue
// is full. It never blocks.
func (s *Shadow) Observe(in policy.Input, live policy.Decision) {
	select {
	case s.jobs <- shadowJob{in: in, live: Summarize(live)}:
	default:
		s.o.OnResult(ShadowDropped, "")
	}
}

// Run shadows queued decisions until ctx ends.
func (s *Shadow) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-s.jobs:
			s.evaluate(ctx, j)
		}
	}
}

func (s *Shadow) evaluate(ctx context.Context, j shadowJob) {
	res, err := s.o.Candidate.Evaluate(ctx, j.in)
	if err != nil {
		s.o.Logger.DebugContext(ctx, "shadow policy could not decide", "err", err)
		s.o.OnResult(ShadowError, "")
		return
	}
	if change, _, _ := Compare(j.live, Summarize(res.Decision)); change != "" {
		s.o.OnResult(ShadowChanged, change)
		return
	}
	s.o.OnResult(ShadowSame, "")
}
