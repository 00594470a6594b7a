package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Commit status vocabulary.
const (
	statusName = "agentgate"
	// maxDescription is what GitLab keeps of a commit status description.
	maxDescription = 255
	// maxComment is what GitLab keeps of a deployment approval comment.
	maxComment = 255
)

// Enforce implements providers.Enforcer. It acts on two events and returns
// providers.ErrNoAction without calling out for every other one (and for
// the cases below that need no call):
//
//   - a pipeline's start (Pipeline Hook, pending or created): deny cancels
//     the pipeline and sets a failed commit status "agentgate" on it with
//     the reasons; approval_required cancels it too (GitLab cannot hold a
//     pipeline) with a canceled status that names the approval; allow does
//     nothing.
//   - a blocked deployment (Deployment Hook blocked, or a Job Hook of a
//     manual job that deploys): allow approves it and deny rejects it as
//     agentgate's user, one of the protected environment's approvers;
//     approval_required leaves it for Release. A human's deployment is left
//     alone: GitLab's own approvers decide it, and agentgate approving would
//     count as one of them.
//
// Calls are idempotent: cancelling a finished pipeline is a no-op, and a
// status already in the wanted state counts as set.
func (p *Provider) Enforce(ctx context.Context, ev event.Event, d providers.Decision) error {
	switch {
	case isPipelineStart(ev):
		return p.enforcePipeline(ctx, ev, d)
	case isBlockedDeployment(ev):
		return p.enforceDeployment(ctx, ev, d)
	}
	return providers.ErrNoAction
}

// isStart reports whether ev is a start event of this provider.
func isStart(ev event.Event) bool {
	return ev.Provider == Name && (ev.Phase == "" || ev.Phase == event.PhaseStart)
}

// isPipelineStart reports whether ev starts a pipeline.
func isPipelineStart(ev event.Event) bool {
	return isStart(ev) && ev.Handles[handleObjectKind] == kindPipeline && ev.Action == actionCreated
}

// isBlockedDeployment reports whether ev is a deployment waiting for approvals.
func isBlockedDeployment(ev event.Event) bool {
	k := ev.Handles[handleObjectKind]
	return isStart(ev) && ev.Kind == event.KindDeploy && ev.Action == actionBlocked && (k == kindDeployment || k == kindBuild)
}

func (p *Provider) enforcePipeline(ctx context.Context, ev event.Event, d providers.Decision) error {
	switch d.Effective {
	case event.OutcomeAllow:
		return providers.ErrNoAction
	case event.OutcomeDeny:
		if err := p.cancelPipeline(ctx, ev); err != nil {
			return err
		}
		lead := "Refused by agentgate"
		if d.DecisionID != "" {
			lead += " (decision " + d.DecisionID + ")"
		}
		return p.setStatus(ctx, ev, gl.Failed, providers.JoinShort(lead, d.Reasons))
	case event.OutcomeApprovalRequired:
		if err := p.cancelPipeline(ctx, ev); err != nil {
			return err
		}
		msg := "Held for approval by agentgate"
		if d.ApprovalID != "" {
			msg += " (approval " + d.ApprovalID + ")"
		}
		return p.setStatus(ctx, ev, gl.Canceled, msg+"; GitLab cannot pause a pipeline, so it was cancelled: run it again once approved")
	}
	return &providers.PermanentError{Err: fmt.Errorf("gitlab: unknown effective decision %q", d.Effective)}
}

func (p *Provider) enforceDeployment(ctx context.Context, ev event.Event, d providers.Decision) error {
	if d.AgentName == "" && !ev.LooksMachine() {
		p.log.DebugContext(ctx, "a human's blocked deployment is left to GitLab's approvers", "repo", ev.Repo, "environment", ev.Environment)
		return providers.ErrNoAction
	}
	switch d.Effective {
	case event.OutcomeAllow:
		return p.review(ctx, ev, true, providers.ApprovalComment(d))
	case event.OutcomeDeny:
		return p.review(ctx, ev, false, providers.RejectionComment(d))
	case event.OutcomeApprovalRequired:
		return providers.ErrNoAction // held until the approval is resolved
	}
	return &providers.PermanentError{Err: fmt.Errorf("gitlab: unknown effective decision %q", d.Effective)}
}

// projectOf is the project to call: its numeric id, else its path.
func projectOf(ev event.Event) (any, error) {
	if id, err := strconv.ParseInt(ev.Handles[handleProjectID], 10, 64); err == nil && id > 0 {
		return id, nil
	}
	if ev.Repo != "" {
		return ev.Repo, nil
	}
	return nil, &providers.PermanentError{Err: errors.New("gitlab: event names no project (no project_id handle, no repo)")}
}

// idHandle reads a positive numeric handle.
func idHandle(ev event.Event, key string) (int64, bool) {
	id, err := strconv.ParseInt(ev.Handles[key], 10, 64)
	return id, err == nil && id > 0
}

// cancelPipeline cancels the event's pipeline. GitLab answers a cancel of a
// finished pipeline with the pipeline unchanged, so a repeat is harmless.
func (p *Provider) cancelPipeline(ctx context.Context, ev event.Event) error {
	pid, err := projectOf(ev)
	if err != nil {
		return err
	}
	pipelineID, ok := idHandle(ev, handlePipelineID)
	if !ok {
		return &providers.PermanentError{Err: fmt.Errorf("gitlab: event has no valid %s handle (%q)", handlePipelineID, ev.Handles[handlePipelineID])}
	}
	cl, err := p.api.client()
	if err != nil {
		return err
	}
	_, resp, err := cl.Pipelines.CancelPipelineBuild(pid, pipelineID, gl.WithContext(ctx))
	return p.api.classify(fmt.Sprintf("cancel pipeline %d of %s", pipelineID, ev.Repo), resp, err)
}

// setStatus sets the "agentgate" commit status on the pipeline's commit.
// GitLab refuses to move a status to the state it is in ("Cannot transition
// status"); that repeat of an earlier call counts as done.
func (p *Provider) setStatus(ctx context.Context, ev event.Event, state gl.BuildStateValue, description string) error {
	pid, err := projectOf(ev)
	if err != nil {
		return err
	}
	sha := ev.Handles[handleSHA]
	if sha == "" {
		sha = ev.SHA
	}
	if sha == "" {
		return &providers.PermanentError{Err: errors.New("gitlab: event has no commit to set a status on")}
	}
	cl, err := p.api.client()
	if err != nil {
		return err
	}
	opts := &gl.SetCommitStatusOptions{
		State:       state,
		Name:        gl.Ptr(statusName),
		Description: gl.Ptr(providers.TruncateRunes(description, maxDescription)),
	}
	if ref := ev.Handles[handleRef]; ref != "" {
		opts.Ref = gl.Ptr(ref)
	}
	if id, ok := idHandle(ev, handlePipelineID); ok {
		opts.PipelineID = gl.Ptr(id)
	}
	_, resp, err := cl.Commits.SetCommitStatus(pid, sha, opts, gl.WithContext(ctx))
	var er *gl.ErrorResponse
	if err != nil && statusOf(resp) == 400 && errors.As(err, &er) && strings.Contains(er.Message, "Cannot transition status") {
		p.log.DebugContext(ctx, "commit status already set", "repo", ev.Repo, "sha", sha, "state", string(state))
		return nil
	}
	return p.api.classify(fmt.Sprintf("set commit status %s on %s of %s", state, sha, ev.Repo), resp, err)
}
