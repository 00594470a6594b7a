package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/agents"
	slackui "github.com/agentgate/agentgate/internal/approval/slack"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
)

// newRollback builds the rollback engine when rollback.prometheus_url is
// set: watches live in the store; each provider that can roll back (a
// rollback.Executor whose API credentials are configured) is its executor.
func (a *App) newRollback(log *slog.Logger, provs *providers.Registry) (*rollback.Engine, error) {
	c := a.Config.Rollback
	if c.PrometheusURL == "" {
		return nil, nil
	}
	q, err := rollback.NewPromQuerier(c.PrometheusURL, nil, log)
	if err != nil {
		return nil, fmt.Errorf("rollback: %w", err)
	}
	executors := map[string]rollback.Executor{}
	for _, name := range provs.Names() {
		p, _ := provs.Get(name)
		ex, ok := p.(rollback.Executor)
		if !ok {
			continue
		}
		if rc, ok := p.(rollback.ReadyChecker); ok {
			if err := rc.RollbackReady(); err != nil {
				log.Info("no rollback for this provider", "provider", name, "reason", err.Error())
				continue
			}
		}
		executors[name] = ex
	}
	return rollback.New(rollback.Config{History: a.Store, Store: a.Store, Querier: q, Executors: executors,
		OnRollback: a.onRollback, Logger: log, IncidentWindow: c.IncidentWindow})
}

// watchDeployment opens a watch on an agent's successful deployment.
func (a *App) watchDeployment(ctx context.Context, d store.Deployment) {
	c := a.Config.Rollback
	spec := rollback.WatchSpec{Query: queryFor(c, d), Threshold: c.Threshold, BaselineFactor: c.BaselineFactor,
		TripAfter: c.TripAfter, NoDataAfter: c.NoDataAfter, Window: c.Window, Interval: c.Interval,
		Namespace: d.Handles["namespace"], App: d.Handles["application"]}
	if spec.Namespace == "" {
		spec.Namespace = d.Environment
	}
	if _, err := a.Rollback.Open(ctx, d, spec); err != nil {
		a.log.Error("could not open a rollback watch", "deployment", d.ID, "err", err)
	}
}

// queryFor picks the PromQL template of a deployment: rollback.queries
// for "repo@environment", then for "repo", then rollback.query.
func queryFor(c config.Rollback, d store.Deployment) string {
	for _, k := range []string{d.Repo + "@" + d.Environment, d.Repo} {
		if q := c.Queries[k]; q != "" {
			return q
		}
	}
	return c.Query
}

// onRollback records a finished rollback and applies the configured
// consequence to the agent whose deploy was rolled back automatically.
func (a *App) onRollback(ctx context.Context, o rollback.Outcome) {
	r := o.Rollback
	rec := &audit.Record{
		ID: uuid.NewString(), Time: time.Now(), Kind: audit.KindRollback, Actor: "rollback:" + r.Target.Source,
		AgentID: r.FromAgentID, Provider: r.Target.Provider, Repo: r.Target.Repo, Environment: r.Target.Environment,
		Namespace: r.Target.Namespace, SHA: r.To.SHA,
		Message: rollbackMessage(r),
		Details: map[string]string{"rollback_id": r.ID, "from_deployment": r.FromDeploymentID, "to_deployment": r.To.ID,
			"method": r.Result.Method, "ref": r.Result.Ref, "steps": strings.Join(r.Result.Steps, "; "), "error": r.Error},
	}
	if w := o.Watch; w != nil {
		rec.Details["watch_id"] = w.ID
		if n := len(w.Readings); n > 0 {
			rec.Details["last_reading"] = fmt.Sprint(w.Readings[n-1].Value)
		}
	}
	if err := a.Store.AppendAudit(ctx, rec); err != nil {
		a.log.Error("could not audit a rollback", "rollback_id", r.ID, "err", err)
	}
	a.announceRollback(ctx, r)
	if r.State == rollback.RollbackSucceeded || r.State == rollback.RollbackFailed {
		a.Metrics.Rollbacks.WithLabelValues(r.Target.Provider, r.Target.Source, string(r.State)).Inc()
	}
	if r.State != rollback.RollbackSucceeded || r.FromAgentID == "" || r.Target.Source == rollback.SourceRequest {
		return
	}
	reason := "deploy " + r.FromSHA + " rolled back automatically: " + r.Reason
	consequence := a.consequenceFor(ctx, r)
	var err error
	switch consequence {
	case "demote":
		_, err = a.Registry.Demote(ctx, "rollback", r.FromAgentID, agents.Tier(""), reason)
	case "kill":
		_, _, err = a.Registry.Engage(ctx, "rollback", registry.KillRequest{Scope: store.ScopeAgent, Target: r.FromAgentID, Reason: reason, Source: registry.SourceRollback})
	}
	if err != nil {
		a.log.Warn("rollback consequence not applied", "agent_id", r.FromAgentID, "consequence", consequence, "err", err)
	}
}

func rollbackMessage(r rollback.Rollback) string {
	if r.State == rollback.RollbackNotified {
		return "alert reported, no rollback (agentgate_action notify): " + r.Reason
	}
	msg := fmt.Sprintf("rollback %s of %s to %s: %s", r.State, r.FromSHA, r.To.SHA, r.Reason)
	if r.State == rollback.RollbackFailed && r.Error != "" {
		msg += "; error: " + r.Error
	}
	return msg
}

// consequenceFor asks the policy what happens to the agent whose deploy
// was rolled back (decision.on_rollback, by tier); rollback.consequence
// applies when the policy says nothing.
func (a *App) consequenceFor(ctx context.Context, r rollback.Rollback) string {
	ag, err := a.Store.GetAgent(ctx, r.FromAgentID)
	if err != nil {
		return a.Config.Rollback.Consequence
	}
	principal := "generic:rollback"
	if len(ag.Principals) > 0 {
		principal = ag.Principals[0]
	}
	res, err := a.Policy.Evaluate(ctx, policy.Input{
		Event: event.Event{Provider: r.Target.Provider, Kind: event.KindDeploy, Action: "rollback", Phase: event.PhaseReport,
			Repo: r.Target.Repo, Environment: r.Target.Environment, Namespace: r.Target.Namespace, SHA: r.FromSHA, Principal: principal},
		Agent: &ag, Usage: map[string]policy.Usage{}, Now: time.Now().UTC().Format(time.RFC3339Nano),
	})
	if err != nil || res.Decision.OnRollback == "" {
		return a.Config.Rollback.Consequence
	}
	return res.Decision.OnRollback
}

// announceRollback tells the approvals channel of the environment and the
// agent's owner what happened, when Slack is configured.
func (a *App) announceRollback(ctx context.Context, r rollback.Rollback) {
	if a.Slack == nil {
		return
	}
	owner, who := "", "a person"
	if r.FromAgentID != "" {
		if ag, err := a.Store.GetAgent(ctx, r.FromAgentID); err == nil {
			owner, who = ag.Owner, fmt.Sprintf("agent %s (owner %s)", ag.Name, ag.Owner)
		}
	}
	target := strings.TrimSpace(r.Target.Repo + " " + r.Target.App)
	text := fmt.Sprintf("agentgate: %s in %s. The deploy of %s by %s was %s: %s",
		target, r.Target.Environment, r.FromSHA, who, rollbackVerb(r), r.Reason)
	if r.State == rollback.RollbackSucceeded && r.To.SHA != "" {
		text += fmt.Sprintf(" (back to %s)", r.To.SHA)
	}
	if r.Error != "" {
		text += ". Error: " + r.Error
	}
	a.Slack.Announce(ctx, slackui.Notice{Environment: r.Target.Environment, Owner: owner, Text: text})
}

func rollbackVerb(r rollback.Rollback) string {
	switch r.State {
	case rollback.RollbackSucceeded:
		return "rolled back"
	case rollback.RollbackNotified:
		return "reported by an alert (no rollback)"
	}
	return "to be rolled back, but the rollback failed"
}
