package rollback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/store"
)

// Engine defaults.
const (
	historyLimit     = 50
	defaultBatch     = 100
	defaultAttempts  = 3
	defaultBackoff   = 2 * time.Second
	maxBackoff       = time.Minute
	defaultQueryWait = 10 * time.Second
)

// Outcome is reported through Config.OnRollback when a rollback finishes
// (succeeded or failed) or a notify-only alert arrives.
type Outcome struct {
	Rollback Rollback
	// Watch is the watch that tripped, for SourceWatch.
	Watch *Watch
}

// Config wires an Engine.
type Config struct {
	History   History
	Store     Store
	Querier   Querier
	Executors map[string]Executor
	// OnRollback receives every finished rollback (audit, notification,
	// policy consequence). It is called synchronously; it may be nil.
	OnRollback func(ctx context.Context, o Outcome)
	Logger     *slog.Logger
	// Now defaults to time.Now and NewID to uuid.NewString.
	Now   func() time.Time
	NewID func() string
	// Attempts is how many times a retryable executor error is tried
	// (default 3), waiting Backoff (default 2 s) doubled each time, or
	// longer when the provider asks.
	Attempts int
	Backoff  time.Duration
	// Batch bounds the watches and rollbacks one Tick handles (default 100).
	Batch int
	// QueryTimeout bounds one query (default 10 s).
	QueryTimeout time.Duration
	// IncidentWindow is how long an incident stays open after its last
	// trigger or the resolution of its alerts (default 30 min); see
	// Incident.
	IncidentWindow time.Duration
}

// Engine opens watches, evaluates them on Tick and carries out rollbacks.
type Engine struct {
	c   Config
	log *slog.Logger
}

// New checks the configuration and builds an engine.
func New(c Config) (*Engine, error) {
	if c.History == nil || c.Store == nil || c.Querier == nil {
		return nil, errors.New("rollback: History, Store and Querier are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = uuid.NewString
	}
	if c.Attempts <= 0 {
		c.Attempts = defaultAttempts
	}
	if c.Backoff <= 0 {
		c.Backoff = defaultBackoff
	}
	if c.Batch <= 0 {
		c.Batch = defaultBatch
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = defaultQueryWait
	}
	if c.IncidentWindow <= 0 {
		c.IncidentWindow = DefaultIncidentWindow
	}
	return &Engine{c: c, log: c.Logger.With("component", "rollback")}, nil
}

// WatchSpec is how to watch a deployment: the query template and limits.
// Zero fields take the Watch defaults (see Watch.Normalize).
type WatchSpec struct {
	Query          string
	Threshold      float64
	BaselineFactor float64
	TripAfter      int
	NoDataAfter    int
	Window         time.Duration
	Interval       time.Duration
	// Namespace and App feed the query template; see VarsOf.
	Namespace string
	App       string
}

// Open starts watching deployment d: it finds the deployment before it in
// the history (the rollback target), measures the baseline with the query
// at d.At (or now, if d.At is zero or later), and stores the watch.
// A baseline without data is 0 (only the absolute threshold applies).
func (e *Engine) Open(ctx context.Context, d store.Deployment, s WatchSpec) (Watch, error) {
	now := e.c.Now()
	w := Watch{
		ID: e.c.NewID(), Provider: d.Provider, Repo: d.Repo, Environment: d.Environment,
		Namespace: s.Namespace, App: s.App, AgentID: d.AgentID, DeploymentID: d.ID, SHA: d.SHA,
		Query: s.Query, Threshold: s.Threshold, BaselineFactor: s.BaselineFactor,
		TripAfter: s.TripAfter, NoDataAfter: s.NoDataAfter, Window: s.Window, Interval: s.Interval,
		StartedAt: now,
	}
	w.Normalize()
	if err := ValidateWatch(&w); err != nil {
		return Watch{}, apperr.Wrap(apperr.KindInvalid, err, "invalid watch for deployment %s", d.ID)
	}
	if _, ok := e.c.Executors[w.Provider]; !ok {
		return Watch{}, apperr.Invalid("no rollback executor for provider %q", w.Provider)
	}
	ds, err := e.c.History.ListDeployments(ctx, store.DeploymentFilter{Provider: d.Provider, Repo: d.Repo, Environment: d.Environment, Limit: historyLimit})
	if err != nil {
		return Watch{}, fmt.Errorf("list deployments: %w", err)
	}
	for i, o := range ds {
		if o.ID == d.ID && i+1 < len(ds) {
			w.PreviousDeploymentID, w.PreviousSHA = ds[i+1].ID, ds[i+1].SHA
			break
		}
	}
	at := d.At
	if at.IsZero() || at.After(now) {
		at = now
	}
	if v, ok, err := e.query(ctx, &w, at); err != nil {
		e.log.WarnContext(ctx, "baseline query failed", "watch_id", w.ID, "error", err)
	} else if ok {
		w.Baseline = v
	}
	if err := e.c.Store.CreateWatch(ctx, w); err != nil {
		return Watch{}, fmt.Errorf("create watch: %w", err)
	}
	e.log.InfoContext(ctx, "watch opened", "watch_id", w.ID, "deployment_id", d.ID, "repo", d.Repo,
		"environment", d.Environment, "baseline", w.Baseline, "previous_deployment_id", w.PreviousDeploymentID)
	return w, nil
}

// query renders the watch's template and runs it at at.
func (e *Engine) query(ctx context.Context, w *Watch, at time.Time) (float64, bool, error) {
	q, err := RenderQuery(w.Query, VarsOf(w))
	if err != nil {
		return 0, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.c.QueryTimeout)
	defer cancel()
	return e.c.Querier.Query(ctx, q, at)
}

// TickReport counts what one Tick did.
type TickReport struct {
	Evaluated int
	NoData    int
	Tripped   int
	Passed    int
	Rollbacks int
}

// Tick evaluates the watches due at now and runs pending rollbacks. The
// leader calls it on a timer (every few seconds; each watch keeps its own
// Interval). Errors of single watches are joined, the others still run.
func (e *Engine) Tick(ctx context.Context, now time.Time) (TickReport, error) {
	var rep TickReport
	var errs []error
	due, err := e.c.Store.DueWatches(ctx, now, e.c.Batch)
	if err != nil {
		return rep, fmt.Errorf("due watches: %w", err)
	}
	for i := range due {
		if err := e.evaluate(ctx, &due[i], now, &rep); err != nil {
			errs = append(errs, fmt.Errorf("watch %s: %w", due[i].ID, err))
		}
	}
	pending, err := e.c.Store.PendingRollbacks(ctx, e.c.Batch)
	if err != nil {
		return rep, errors.Join(append(errs, fmt.Errorf("pending rollbacks: %w", err))...)
	}
	for _, r := range pending {
		if _, err := e.Run(ctx, r.ID); err != nil {
			errs = append(errs, fmt.Errorf("rollback %s: %w", r.ID, err))
		}
		rep.Rollbacks++
	}
	return rep, errors.Join(errs...)
}

// evaluate reads one watch, steps it, stores it, and on a trip requests
// and runs the rollback.
func (e *Engine) evaluate(ctx context.Context, w *Watch, now time.Time, rep *TickReport) error {
	rep.Evaluated++
	r := Reading{At: now}
	v, ok, err := e.query(ctx, w, now)
	switch {
	case err != nil:
		r.Error = err.Error()
		e.log.WarnContext(ctx, "watch query failed", "watch_id", w.ID, "error", err)
	case ok:
		r.Value, r.HasData = v, true
	}
	d := Step(w, r)
	w.NextAt = now.Add(w.Interval)
	log := e.log.With("watch_id", w.ID, "deployment_id", w.DeploymentID, "repo", w.Repo, "environment", w.Environment)
	if d.NoData {
		rep.NoData++
		log.WarnContext(ctx, "watch reading has no data", "state", d.State, "reason", d.Reason)
	}
	if d.State == StatePassed {
		rep.Passed++
		log.InfoContext(ctx, "watch passed", "reason", d.Reason)
	}
	if !d.Trip {
		if err := e.c.Store.UpdateWatch(ctx, *w); err != nil {
			return fmt.Errorf("update watch: %w", err)
		}
		return nil
	}
	rep.Tripped++
	log.WarnContext(ctx, "watch tripped", "reason", d.Reason)
	t := Target{Provider: w.Provider, Repo: w.Repo, App: w.App, Environment: w.Environment, Namespace: w.Namespace,
		Action: ActionRollback, Source: SourceWatch, Reason: d.Reason}
	rb, created, reqErr := e.requestFor(ctx, w, t)
	if reqErr != nil {
		w.State, w.Ended, w.Detail = StateFailed, true, d.Reason+"; rollback not started: "+reqErr.Error()
	} else {
		w.RollbackID = rb.ID
		if !created {
			w.Detail = d.Reason + "; joined rollback " + rb.ID + " (" + string(rb.State) + ") of the same incident"
			switch rb.State {
			case RollbackSucceeded:
				w.State = StateRolledBack
			case RollbackFailed:
				w.State = StateFailed
			}
		}
	}
	if err := e.c.Store.UpdateWatch(ctx, *w); err != nil {
		return fmt.Errorf("update watch: %w", err)
	}
	if reqErr != nil {
		e.report(ctx, Outcome{Watch: w, Rollback: Rollback{Key: t.Key(), Target: t, WatchID: w.ID, Reason: d.Reason,
			FromDeploymentID: w.DeploymentID, FromSHA: w.SHA, FromAgentID: w.AgentID, State: RollbackFailed,
			Error: reqErr.Error(), CreatedAt: now, UpdatedAt: now}})
		return reqErr
	}
	if !created {
		return nil
	}
	rep.Rollbacks++
	_, err = e.Run(ctx, rb.ID)
	return err
}

// requestFor records the rollback of a tripped watch to the deployment
// before the watched one.
func (e *Engine) requestFor(ctx context.Context, w *Watch, t Target) (Rollback, bool, error) {
	if w.PreviousDeploymentID == "" {
		return Rollback{}, false, apperr.NotFound("no deployment before %s to roll back to", w.DeploymentID)
	}
	to, err := e.deployment(ctx, t, w.PreviousDeploymentID)
	if err != nil {
		return Rollback{}, false, err
	}
	now := e.c.Now()
	r := Rollback{
		ID: e.c.NewID(), Key: t.Key(), Target: t, WatchID: w.ID, RequestedBy: "watch", Reason: t.Reason,
		FromDeploymentID: w.DeploymentID, FromSHA: w.SHA, FromAgentID: w.AgentID, To: to,
		State: RollbackPending, CreatedAt: now, UpdatedAt: now,
	}
	return e.incident(ctx, r)
}

// deployment finds a deployment of the target by id in the history.
func (e *Engine) deployment(ctx context.Context, t Target, id string) (store.Deployment, error) {
	ds, err := e.c.History.ListDeployments(ctx, store.DeploymentFilter{Provider: t.Provider, Repo: t.Repo, Environment: t.Environment, Limit: historyLimit})
	if err != nil {
		return store.Deployment{}, fmt.Errorf("list deployments: %w", err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d, nil
		}
	}
	return store.Deployment{}, apperr.NotFound("deployment %s is no longer in the last %d of %s %s", id, historyLimit, t.Repo, t.Environment)
}

// Run carries out a pending rollback: it claims it, calls the provider's
// executor (retrying retryable errors), stores the result, updates the
// watch that started it and reports the outcome. A rollback that is not
// pending (another replica claimed it) is returned unchanged.
func (e *Engine) Run(ctx context.Context, id string) (Rollback, error) {
	r, claimed, err := e.c.Store.ClaimRollback(ctx, id, e.c.Now())
	if err != nil {
		return Rollback{}, fmt.Errorf("claim rollback: %w", err)
	}
	if !claimed {
		return r, nil
	}
	var execErr error
	ex, ok := e.c.Executors[r.Target.Provider]
	if !ok {
		execErr = &providers.PermanentError{Err: fmt.Errorf("no rollback executor for provider %q", r.Target.Provider)}
	} else {
		r.Result, r.Attempts, execErr = e.execute(ctx, ex, r)
	}
	r.UpdatedAt = e.c.Now()
	if execErr != nil {
		r.State, r.Error = RollbackFailed, execErr.Error()
		e.log.ErrorContext(ctx, "rollback failed", "rollback_id", r.ID, "repo", r.Target.Repo, "environment", r.Target.Environment, "error", execErr)
	} else {
		r.State = RollbackSucceeded
		e.log.InfoContext(ctx, "rollback started at provider", "rollback_id", r.ID, "repo", r.Target.Repo,
			"environment", r.Target.Environment, "method", r.Result.Method, "ref", r.Result.Ref, "to_sha", r.To.SHA)
	}
	// The outcome is stored even if the caller's context ended meanwhile.
	sctx := context.WithoutCancel(ctx)
	if err := e.c.Store.UpdateRollback(sctx, r); err != nil {
		return r, fmt.Errorf("update rollback: %w", err)
	}
	o := Outcome{Rollback: r}
	if r.WatchID != "" {
		w, err := e.c.Store.GetWatch(sctx, r.WatchID)
		if err != nil {
			return r, fmt.Errorf("get watch: %w", err)
		}
		w.State, w.Ended = StateRolledBack, true
		if execErr != nil {
			w.State = StateFailed
			w.Detail += "; rollback failed: " + execErr.Error()
		}
		if err := e.c.Store.UpdateWatch(sctx, w); err != nil {
			return r, fmt.Errorf("update watch: %w", err)
		}
		o.Watch = &w
	}
	e.report(sctx, o)
	if execErr != nil {
		return r, fmt.Errorf("rollback %s: %w", r.ID, execErr)
	}
	return r, nil
}

// execute calls the executor, retrying retryable errors with back-off.
func (e *Engine) execute(ctx context.Context, ex Executor, r Rollback) (Result, int, error) {
	wait := e.c.Backoff
	for attempt := 1; ; attempt++ {
		res, err := ex.Rollback(ctx, r.Target, r.To)
		if err == nil || IsPermanent(err) || attempt >= e.c.Attempts {
			return res, attempt, err
		}
		d := wait
		var rd providers.RetryDelayer
		if errors.As(err, &rd) && rd.RetryDelay() > d {
			d = rd.RetryDelay()
		}
		e.log.WarnContext(ctx, "rollback attempt failed; retrying", "rollback_id", r.ID, "attempt", attempt, "wait", d, "error", err)
		t := time.NewTimer(min(d, maxBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return res, attempt, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

// Watches lists the watches, live ones only when live is set, the next
// due first; at most limit of them (all when limit is not positive).
func (e *Engine) Watches(ctx context.Context, live bool, limit int) ([]Watch, error) {
	return e.c.Store.ListWatches(ctx, live, limit)
}

// Rollbacks lists the rollbacks in every state, newest first; at most
// limit of them (all when limit is not positive).
func (e *Engine) Rollbacks(ctx context.Context, limit int) ([]Rollback, error) {
	return e.c.Store.ListRollbacks(ctx, limit)
}

// report hands an outcome to the OnRollback callback.
func (e *Engine) report(ctx context.Context, o Outcome) {
	if e.c.OnRollback != nil {
		e.c.OnRollback(ctx, o)
	}
}
