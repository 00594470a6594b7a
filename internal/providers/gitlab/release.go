package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// maxBlockedScan is how many blocked deployments of an environment are
// searched for a job's deployment.
const maxBlockedScan = 100

// Release implements providers.Releaser for a held change:
//
//   - a blocked deployment is approved or rejected as agentgate's user,
//     with comment (a default one when empty);
//   - a held pipeline (cancelled when it was held) gets an "agentgate"
//     commit status: success when approved (run it again to proceed),
//     failed when not.
//
// Other events hold nothing and Release returns providers.ErrNoAction.
func (p *Provider) Release(ctx context.Context, ev event.Event, approved bool, comment string) error {
	comment = strings.TrimSpace(comment)
	switch {
	case isBlockedDeployment(ev):
		if comment == "" {
			comment = "Rejected in agentgate"
			if approved {
				comment = "Approved in agentgate"
			}
		}
		return p.review(ctx, ev, approved, comment)
	case isPipelineStart(ev):
		state, lead := gl.Failed, "Rejected in agentgate"
		if approved {
			state, lead = gl.Success, "Approved in agentgate; run the pipeline again to proceed"
		}
		return p.setStatus(ctx, ev, state, providers.JoinShort(lead, providers.NonEmpty(comment)))
	}
	return providers.ErrNoAction
}

// review approves or rejects the event's blocked deployment:
// POST /projects/:id/deployments/:deployment_id/approval.
func (p *Provider) review(ctx context.Context, ev event.Event, approved bool, comment string) error {
	pid, err := projectOf(ev)
	if err != nil {
		return err
	}
	cl, err := p.api.client()
	if err != nil {
		return err
	}
	id, ok := idHandle(ev, handleDeploymentID)
	if !ok {
		id, err = p.blockedDeploymentOf(ctx, cl, pid, ev)
		if err != nil || id == 0 {
			return err
		}
	}
	status := gl.DeploymentApprovalStatusRejected
	if approved {
		status = gl.DeploymentApprovalStatusApproved
	}
	opts := &gl.ApproveOrRejectProjectDeploymentOptions{
		Status:  gl.Ptr(status),
		Comment: gl.Ptr(providers.TruncateRunes(comment, maxComment)),
	}
	if p.approvalRule != "" {
		opts.RepresentedAs = gl.Ptr(p.approvalRule)
	}
	resp, err := cl.Deployments.ApproveOrRejectProjectDeployment(pid, id, opts, gl.WithContext(ctx))
	return p.api.classify(fmt.Sprintf("%s deployment %d to %s of %s", status, id, ev.Environment, ev.Repo), resp, err)
}

// blockedDeploymentOf finds the blocked deployment of the event's job (a
// Job Hook names the job, not the deployment). 0 and no error means there
// is none: the job is a plain manual job, or its deployment is no longer
// blocked, and there is nothing to approve.
func (p *Provider) blockedDeploymentOf(ctx context.Context, cl *gl.Client, pid any, ev event.Event) (int64, error) {
	jobID, ok := idHandle(ev, handleDeployableID)
	if !ok {
		jobID, ok = idHandle(ev, handleJobID)
	}
	environment := ev.Handles[handleEnvironment]
	if environment == "" {
		environment = ev.Environment
	}
	if !ok || environment == "" {
		return 0, &providers.PermanentError{Err: errors.New("gitlab: event names neither a deployment nor a job and environment")}
	}
	opts := &gl.ListProjectDeploymentsOptions{
		ListOptions: gl.ListOptions{PerPage: maxBlockedScan},
		Environment: gl.Ptr(environment),
		Status:      gl.Ptr("blocked"),
		OrderBy:     gl.Ptr("id"),
		Sort:        gl.Ptr("desc"),
	}
	deps, resp, err := cl.Deployments.ListProjectDeployments(pid, opts, gl.WithContext(ctx))
	if err != nil {
		return 0, p.api.classify(fmt.Sprintf("list blocked deployments to %s of %s", environment, ev.Repo), resp, err)
	}
	for _, d := range deps {
		if d != nil && d.Deployable.ID == jobID {
			return d.ID, nil
		}
	}
	p.log.DebugContext(ctx, "job has no blocked deployment; nothing to approve", "repo", ev.Repo, "environment", environment, "job_id", jobID)
	return 0, nil
}
