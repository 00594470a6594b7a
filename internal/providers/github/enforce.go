package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Check run and commit status vocabulary.
const (
	checkName              = "agentgate"
	conclusionFailure      = "failure"
	conclusionNeutral      = "neutral"
	conclusionSuccess      = "success"
	conclusionActionNeeded = "action_required"
	statusFailure          = "failure"
	statusPending          = "pending"
	statusSuccess          = "success"
	// maxStatusDescription is GitHub's limit on a commit status description.
	maxStatusDescription = 140
	// maxSummary stays under GitHub's 65535-character check run summary.
	maxSummary = 60000
)

// Enforce implements providers.Enforcer. It acts on two events and returns
// providers.ErrNoAction without calling out for every other one:
//
//   - workflow_run.requested: deny cancels the run and publishes a failed
//     "agentgate" check run on its head commit listing the reasons;
//     approval_required cancels it too (GitHub cannot hold a run) with an
//     action_required check run; allow publishes nothing, except a neutral
//     check run for an agent's run that drew warnings or that warn/dryrun
//     mode let through. Without checks:write the check run becomes a commit
//     status (context "agentgate").
//   - deployment_protection_rule.requested: allow approves and deny rejects
//     through the deployment callback; approval_required leaves it waiting
//     for Release. Humans' deployments are approved too: the rule blocks
//     until it is answered.
//
// Every call is idempotent: a repeated cancel of a finished run (409) is
// success, and check runs and statuses are simply published again.
func (p *Provider) Enforce(ctx context.Context, ev event.Event, d providers.Decision) error {
	switch {
	case isRunRequest(ev):
		return p.enforceRun(ctx, ev, d)
	case isProtectionRule(ev):
		return p.enforceProtectionRule(ctx, ev, d)
	}
	return providers.ErrNoAction
}

// isRunRequest reports whether ev is a workflow_run.requested start event.
func isRunRequest(ev event.Event) bool {
	return ev.Provider == Name && ev.Handles[handleEvent] == eventWorkflowRun &&
		ev.Action == "requested" && (ev.Phase == "" || ev.Phase == event.PhaseStart)
}

// isProtectionRule reports whether ev is a deployment protection rule request.
func isProtectionRule(ev event.Event) bool {
	return ev.Provider == Name && ev.Handles[handleEvent] == eventDeploymentProtectionRule &&
		ev.Action == "requested" && (ev.Phase == "" || ev.Phase == event.PhaseStart)
}

func (p *Provider) enforceRun(ctx context.Context, ev event.Event, d providers.Decision) error {
	switch d.Effective {
	case event.OutcomeDeny:
		if err := p.cancelRun(ctx, ev); err != nil {
			return err
		}
		return p.publish(ctx, ev, verdict{
			conclusion: conclusionFailure, status: statusFailure,
			title:    "Refused by agentgate",
			summary:  runSummary("agentgate refused this workflow run and cancelled it.", ev, d, "Reasons", d.Reasons),
			short:    providers.JoinShort("Refused by agentgate", d.Reasons),
			external: d.DecisionID,
		})
	case event.OutcomeApprovalRequired:
		if err := p.cancelRun(ctx, ev); err != nil {
			return err
		}
		lead := "agentgate holds this workflow run for a human's approval"
		if d.ApprovalID != "" {
			lead += " (approval `" + d.ApprovalID + "`)"
		}
		lead += ". GitHub cannot pause a run, so it was cancelled; re-run it once approved."
		return p.publish(ctx, ev, verdict{
			conclusion: conclusionActionNeeded, status: statusPending,
			title:    "Held for approval by agentgate",
			summary:  runSummary(lead, ev, d, "Reasons", d.Reasons),
			short:    "Held for approval by agentgate; re-run once approved",
			external: d.DecisionID,
		})
	case event.OutcomeAllow:
		if !noteworthy(ev, d) {
			return providers.ErrNoAction
		}
		heading, lines := "Warnings", d.Warnings
		lead := "agentgate allowed this workflow run with warnings."
		if d.Outcome != "" && d.Outcome != d.Effective {
			lead = fmt.Sprintf("agentgate allowed this workflow run, but its policy decided %q: the rules are in warn or dry-run mode.", d.Outcome)
			heading, lines = "Reasons and warnings", append(append([]string{}, d.Reasons...), d.Warnings...)
		}
		return p.publish(ctx, ev, verdict{
			conclusion: conclusionNeutral,
			title:      "Allowed by agentgate with warnings",
			summary:    runSummary(lead, ev, d, heading, lines),
			external:   d.DecisionID,
		})
	}
	return &providers.PermanentError{Err: fmt.Errorf("github: unknown effective decision %q", d.Effective)}
}

// noteworthy reports whether an allowed run deserves a neutral check run:
// an agent's (or machine-looking) run with warnings, or one that only warn
// or dry-run mode let through. Humans' runs never get one.
func noteworthy(ev event.Event, d providers.Decision) bool {
	if d.AgentName == "" && !ev.LooksMachine() {
		return false
	}
	return len(d.Warnings) > 0 || (d.Outcome != "" && d.Outcome != d.Effective)
}

func (p *Provider) enforceProtectionRule(ctx context.Context, ev event.Event, d providers.Decision) error {
	switch d.Effective {
	case event.OutcomeAllow:
		return p.review(ctx, ev, true, providers.ApprovalComment(d))
	case event.OutcomeDeny:
		return p.review(ctx, ev, false, providers.RejectionComment(d))
	case event.OutcomeApprovalRequired:
		return nil
	}
	return &providers.PermanentError{Err: fmt.Errorf("github: unknown effective decision %q", d.Effective)}
}

// cancelRun cancels the event's workflow run. A run that already finished
// (409 Conflict) needs no cancelling.
func (p *Provider) cancelRun(ctx context.Context, ev event.Event) error {
	owner, repo, err := splitRepo(ev.Repo)
	if err != nil {
		return err
	}
	runID, err := strconv.ParseInt(ev.Handles[handleRunID], 10, 64)
	if err != nil || runID <= 0 {
		return &providers.PermanentError{Err: fmt.Errorf("github: event has no valid %s handle (%q)", handleRunID, ev.Handles[handleRunID])}
	}
	cl, err := p.api.client(ev)
	if err != nil {
		return err
	}
	resp, err := cl.Actions.CancelWorkflowRunByID(ctx, owner, repo, runID)
	if err != nil && resp != nil && resp.StatusCode == http.StatusConflict {
		p.log.DebugContext(ctx, "workflow run already finished", "repo", ev.Repo, "run_id", runID)
		return nil
	}
	return p.api.classify(fmt.Sprintf("cancel workflow run %d of %s", runID, ev.Repo), err)
}

// verdict is what publish shows on the run's head commit.
type verdict struct {
	conclusion string // check run conclusion
	status     string // commit status state; "" publishes no status
	title      string
	summary    string // check run summary (Markdown)
	short      string // commit status description
	external   string // check run external id: the decision id
}

// publish creates the "agentgate" check run on the run's head commit. When
// GitHub refuses it for want of permission (403: a token, or an App without
// checks:write) it sets a commit status instead, if v has one.
func (p *Provider) publish(ctx context.Context, ev event.Event, v verdict) error {
	owner, repo, err := splitRepo(ev.Repo)
	if err != nil {
		return err
	}
	sha := ev.Handles[handleHeadSHA]
	if sha == "" {
		sha = ev.SHA
	}
	if sha == "" {
		return &providers.PermanentError{Err: errors.New("github: event has no head commit to report on")}
	}
	cl, err := p.api.client(ev)
	if err != nil {
		return err
	}
	opts := gh.CreateCheckRunOptions{
		Name:       checkName,
		HeadSHA:    sha,
		Conclusion: gh.String(v.conclusion),
		Output:     &gh.CheckRunOutput{Title: gh.String(v.title), Summary: gh.String(providers.Clip(v.summary, maxSummary))},
	}
	if v.external != "" {
		opts.ExternalID = gh.String(v.external)
	}
	_, _, err = cl.Checks.CreateCheckRun(ctx, owner, repo, opts)
	if err == nil || !p.api.forbiddenNotLimited(err) {
		return p.api.classify("create check run on "+sha, err)
	}
	if v.status == "" {
		p.log.WarnContext(ctx, "cannot create check runs (403); skipping the notice", "repo", ev.Repo, "error", err.Error())
		return nil
	}
	p.log.DebugContext(ctx, "cannot create check runs (403); setting a commit status", "repo", ev.Repo)
	status := &gh.RepoStatus{
		State:       gh.String(v.status),
		Context:     gh.String(checkName),
		Description: gh.String(providers.TruncateRunes(v.short, maxStatusDescription)),
	}
	if u := ev.Handles[handleHTMLURL]; u != "" {
		status.TargetURL = gh.String(u)
	}
	_, _, err = cl.Repositories.CreateStatus(ctx, owner, repo, sha, status)
	return p.api.classify("create commit status on "+sha, err)
}

// runSummary is a check run's Markdown summary: the lead, who and which
// decision, and the lines under a heading.
func runSummary(lead string, ev event.Event, d providers.Decision, heading string, lines []string) string {
	var b strings.Builder
	b.WriteString(lead)
	b.WriteString("\n\n")
	if d.AgentName != "" {
		fmt.Fprintf(&b, "- Agent: `%s`\n", d.AgentName)
	}
	fmt.Fprintf(&b, "- Principal: `%s`\n", ev.Principal)
	if d.DecisionID != "" {
		fmt.Fprintf(&b, "- Decision: `%s`\n", d.DecisionID)
	}
	if len(lines) > 0 {
		fmt.Fprintf(&b, "\n**%s**\n\n", heading)
		for _, l := range lines {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(l, "\n", " "))
		}
	}
	return b.String()
}

// splitRepo splits "owner/name".
func splitRepo(full string) (string, string, error) {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", &providers.PermanentError{Err: fmt.Errorf("github: repo %q is not owner/name", full)}
	}
	return owner, name, nil
}
