package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// maxRetryAfter bounds how long a provider's Retry-After may hold a job.
const maxRetryAfter = 15 * time.Minute

// Auditor appends audit records (the store).
type Auditor interface {
	AppendAudit(ctx context.Context, r *audit.Record) error
}

// Options configures a Dispatcher.
type Options struct {
	Audit   Auditor
	Metrics *telemetry.Metrics
	Logger  *slog.Logger
	// Workers run jobs concurrently (default 4).
	Workers int
	// Queue bounds waiting jobs (default 1024); past it a job fails at once
	// and is audited as such.
	Queue int
	// MaxAttempts per job (default 8), with delays from BaseDelay doubling
	// up to MaxDelay (defaults 500ms and 1m), jittered.
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	// AttemptTimeout bounds one call to the provider (default 30s).
	AttemptTimeout time.Duration
}

// Job is one call to make to a provider.
type Job struct {
	Provider string
	// Action names the call for logs, metrics and audit: enforce, release.
	Action string
	Event  event.Event
	// DecisionID links the audit record to the decision it enforces.
	DecisionID string
	ApprovalID string
	Run        func(ctx context.Context) error
}

// Dispatcher runs jobs.
type Dispatcher struct {
	o     Options
	jobs  chan Job
	wg    sync.WaitGroup
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a dispatcher; Run starts its workers.
func New(o Options) *Dispatcher {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Queue <= 0 {
		o.Queue = 1024
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 500 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Minute
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{o: o, jobs: make(chan Job, o.Queue), sleep: sleepCtx}
}

// Submit queues a job. It never blocks: with the queue full the job fails
// at once and the failure is audited.
func (d *Dispatcher) Submit(j Job) {
	select {
	case d.jobs <- j:
	default:
		d.finish(context.Background(), j, 0, errors.New("enforcement queue is full"))
	}
}

// Run processes jobs until ctx ends. A running job finishes its current
// attempt (bounded by AttemptTimeout) and is not retried; jobs still queued
// are audited as not run.
func (d *Dispatcher) Run(ctx context.Context) error {
	for i := 0; i < d.o.Workers; i++ {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-d.jobs:
					d.do(ctx, j)
				}
			}
		}()
	}
	<-ctx.Done()
	d.wg.Wait()
	// Jobs still queued will not run: say so in the audit log.
	for {
		select {
		case j := <-d.jobs:
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			d.finish(actx, j, 0, errors.New("not run: agentgate was shutting down"))
			cancel()
		default:
			return ctx.Err()
		}
	}
}

// do runs one job to success, a permanent error, or its last attempt.
func (d *Dispatcher) do(ctx context.Context, j Job) {
	var err error
	attempt := 0
	for attempt < d.o.MaxAttempts {
		attempt++
		// An attempt under way runs to its end even when ctx ends.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.AttemptTimeout)
		err = j.Run(actx)
		cancel()
		if err == nil {
			break
		}
		var perm *providers.PermanentError
		if errors.As(err, &perm) || errors.Is(err, providers.ErrNoAction) || attempt == d.o.MaxAttempts {
			break
		}
		wait := d.backoff(attempt)
		var rd providers.RetryDelayer
		if errors.As(err, &rd) && rd.RetryDelay() > wait {
			wait = min(rd.RetryDelay(), maxRetryAfter)
		}
		d.o.Logger.Warn("enforcement attempt failed; retrying", "provider", j.Provider, "action", j.Action,
			"attempt", attempt, "wait", wait, "err", err)
		if d.sleep(ctx, wait) != nil {
			err = fmt.Errorf("stopped before retrying: %w", err)
			break
		}
	}
	if errors.Is(err, providers.ErrNoAction) {
		return
	}
	// Record the outcome even when ctx is ending.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	d.finish(actx, j, attempt, err)
}

// backoff is the jittered exponential delay before attempt+1.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	delay := d.o.BaseDelay << (attempt - 1)
	if delay <= 0 || delay > d.o.MaxDelay {
		delay = d.o.MaxDelay
	}
	return delay/2 + rand.N(delay/2+1)
}

// finish audits the job's outcome and counts a failure.
func (d *Dispatcher) finish(ctx context.Context, j Job, attempts int, err error) {
	rec := &audit.Record{
		ID: uuid.NewString(), Time: time.Now(), Kind: audit.KindEnforcement, Actor: "enforcer:" + j.Provider,
		Provider: j.Provider, EventKind: string(j.Event.Kind), Action: j.Event.Action, Repo: j.Event.Repo,
		Ref: j.Event.Ref, SHA: j.Event.SHA, Environment: j.Event.Environment, Namespace: j.Event.Namespace,
		Principal: j.Event.Principal, ApprovalID: j.ApprovalID,
		Details: map[string]string{"action": j.Action, "decision_id": j.DecisionID, "attempts": fmt.Sprint(attempts), "result": "success"},
		Message: j.Action + " succeeded",
	}
	if err != nil {
		rec.Details["result"] = "failure"
		rec.Message = fmt.Sprintf("%s failed after %d attempt(s): %v", j.Action, attempts, err)
		if d.o.Metrics != nil {
			d.o.Metrics.EnforcementFails.WithLabelValues(j.Provider, j.Action).Inc()
		}
		d.o.Logger.Error("enforcement failed", "provider", j.Provider, "action", j.Action, "attempts", attempts, "err", err)
	}
	if aerr := d.o.Audit.AppendAudit(ctx, rec); aerr != nil {
		d.o.Logger.Error("could not audit enforcement", "provider", j.Provider, "action", j.Action, "err", aerr)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
