package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// ToPrevious asks for the deployment before the current one.
const ToPrevious = "previous"

// Request asks for a rollback.
type Request struct {
	Target Target
	// To is ToPrevious (or empty, the same) or a commit SHA (7 characters
	// or more of it) of an earlier successful deployment.
	To          string
	Reason      string
	RequestedBy string
}

// Request records a pending rollback of the target, to be carried out by
// Run (or the leader's next Tick). If a rollback of the same target is
// already pending or running, that one is returned with created false.
// Errors: apperr.KindInvalid for a bad request or an unknown provider,
// apperr.KindNotFound when the history has no deployment to return to.
func (e *Engine) Request(ctx context.Context, req Request) (Rollback, bool, error) {
	r, err := e.build(ctx, req)
	if err != nil {
		return Rollback{}, false, err
	}
	stored, created, err := e.c.Store.CreateRollback(ctx, r)
	if err != nil {
		return Rollback{}, false, fmt.Errorf("create rollback: %w", err)
	}
	if created {
		e.logRequested(ctx, r)
	}
	return stored, created, nil
}

// build checks a request and makes its pending rollback, not yet stored.
func (e *Engine) build(ctx context.Context, req Request) (Rollback, error) {
	t := req.Target
	t.Provider = strings.ToLower(strings.TrimSpace(t.Provider))
	if t.Repo == "" {
		t.Repo = t.App
	}
	if t.Provider == "" || t.Repo == "" || t.Environment == "" {
		return Rollback{}, apperr.Invalid("rollback needs a provider, a repo or app, and an environment")
	}
	if _, ok := e.c.Executors[t.Provider]; !ok {
		return Rollback{}, apperr.Invalid("no rollback executor for provider %q", t.Provider)
	}
	if t.Source == "" {
		t.Source = SourceRequest
	}
	if t.Reason == "" {
		t.Reason = req.Reason
	}
	from, to, err := e.resolve(ctx, t, req.To)
	if err != nil {
		return Rollback{}, err
	}
	now := e.c.Now()
	return Rollback{
		ID: e.c.NewID(), Key: t.Key(), Target: t, RequestedBy: req.RequestedBy, Reason: req.Reason,
		FromDeploymentID: from.ID, FromSHA: from.SHA, FromAgentID: from.AgentID, To: to,
		State: RollbackPending, CreatedAt: now, UpdatedAt: now,
	}, nil
}

func (e *Engine) logRequested(ctx context.Context, r Rollback) {
	e.log.InfoContext(ctx, "rollback requested", "rollback_id", r.ID, "provider", r.Target.Provider, "repo", r.Target.Repo,
		"environment", r.Target.Environment, "source", r.Target.Source, "from_sha", r.FromSHA, "to_sha", r.To.SHA,
		"by", r.RequestedBy, "watch_id", r.WatchID)
}

// incident records an automatic rollback (an alert's or a watch's) as a
// trigger of its deployment's incident: the first trigger stores r, the
// others join the incident's rollback (created false). See Incident.
func (e *Engine) incident(ctx context.Context, r Rollback) (Rollback, bool, error) {
	now := e.c.Now()
	stored, inc, created, err := e.c.Store.OpenIncident(ctx, r, now, e.c.IncidentWindow)
	if err != nil {
		return Rollback{}, false, fmt.Errorf("open incident: %w", err)
	}
	if created {
		e.logRequested(ctx, stored)
	} else {
		e.log.InfoContext(ctx, "trigger joined an open incident", "incident", inc.String(), "rollback_id", stored.ID,
			"state", stored.State, "source", r.Target.Source, "triggers", inc.Triggers, "firing", inc.Firing)
	}
	return stored, created, nil
}

// resolve finds the deployment rolled back (the newest) and the one to go
// back to: the one before it, or the newest earlier one with the SHA.
func (e *Engine) resolve(ctx context.Context, t Target, to string) (from, target store.Deployment, err error) {
	ds, err := e.c.History.ListDeployments(ctx, store.DeploymentFilter{Provider: t.Provider, Repo: t.Repo, Environment: t.Environment, Limit: historyLimit})
	if err != nil {
		return from, target, fmt.Errorf("list deployments: %w", err)
	}
	if len(ds) == 0 {
		return from, target, apperr.NotFound("no recorded deployment of %s %s to %s", t.Provider, t.Repo, t.Environment)
	}
	from = ds[0]
	to = strings.TrimSpace(to)
	if to == "" || to == ToPrevious {
		if len(ds) < 2 {
			return from, target, apperr.NotFound("no deployment of %s %s to %s before %s", t.Provider, t.Repo, t.Environment, from.ID)
		}
		return from, ds[1], nil
	}
	if len(to) < 7 {
		return from, target, apperr.Invalid("to must be %q or a commit sha of 7 characters or more", ToPrevious)
	}
	if strings.HasPrefix(from.SHA, to) {
		return from, target, apperr.Invalid("%s is the current deployment of %s to %s", to, t.Repo, t.Environment)
	}
	for _, d := range ds[1:] {
		if strings.HasPrefix(d.SHA, to) {
			return from, d, nil
		}
	}
	return from, target, apperr.NotFound("no successful deployment of %s at %s among the last %d", t.Repo, to, len(ds))
}

// HandleAlerts turns Alertmanager targets into rollbacks. A notify target
// is only reported through OnRollback. A rollback target is acted on only
// if its newest deployment was made by an agent and before the alert
// started (the spike followed the agent's deploy); otherwise it is
// reported as skipped in errs. Each target is a trigger of the incident of
// its newest deployment: repeats of a firing alert, other alerts of the
// group, flaps and a watch on the same spike join the incident's one
// rollback. It returns the rollbacks of the targets (created, or joined;
// only a created one is pending).
func (e *Engine) HandleAlerts(ctx context.Context, targets []Target) (rollbacks []Rollback, errs error) {
	var problems []error
	for _, t := range targets {
		if t.Action == ActionNotify {
			e.report(ctx, Outcome{Rollback: Rollback{Key: t.Key(), Target: t, Reason: t.Reason, State: RollbackNotified, CreatedAt: e.c.Now()}})
			continue
		}
		ds, err := e.c.History.ListDeployments(ctx, store.DeploymentFilter{Provider: t.Provider, Repo: t.Repo, Environment: t.Environment, Limit: 1})
		if err != nil {
			problems = append(problems, fmt.Errorf("%s %s: list deployments: %w", t.Repo, t.Environment, err))
			continue
		}
		if len(ds) == 0 || ds[0].AgentID == "" {
			problems = append(problems, apperr.Conflict("%s %s: newest deployment was not made by an agent; not rolling back", t.Repo, t.Environment))
			continue
		}
		if !t.StartsAt.IsZero() && t.StartsAt.Before(ds[0].At) {
			problems = append(problems, apperr.Conflict("%s %s: alert started before the newest deployment; not rolling back", t.Repo, t.Environment))
			continue
		}
		r, err := e.build(ctx, Request{Target: t, To: ToPrevious, Reason: t.Reason, RequestedBy: "alertmanager"})
		if err == nil {
			r, _, err = e.incident(ctx, r)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("%s %s: %w", t.Repo, t.Environment, err))
			continue
		}
		rollbacks = append(rollbacks, r)
	}
	return rollbacks, errors.Join(problems...)
}

// ResolveAlerts records that Alertmanager reported the targets' alerts
// resolved: their incidents stop firing and close IncidentWindow later
// unless an alert fires again.
func (e *Engine) ResolveAlerts(ctx context.Context, targets []Target) error {
	var problems []error
	now := e.c.Now()
	for _, t := range targets {
		t.Provider = strings.ToLower(strings.TrimSpace(t.Provider))
		n, err := e.c.Store.ResolveIncidents(ctx, t.Key(), now)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s %s: resolve incidents: %w", t.Repo, t.Environment, err))
			continue
		}
		if n > 0 {
			e.log.InfoContext(ctx, "alerts resolved", "repo", t.Repo, "environment", t.Environment, "incidents", n,
				"closes_after", e.c.IncidentWindow)
		}
	}
	return errors.Join(problems...)
}

// Get returns a rollback by id (store.ErrNotFound if unknown).
func (e *Engine) Get(ctx context.Context, id string) (Rollback, error) {
	return e.c.Store.GetRollback(ctx, id)
}
