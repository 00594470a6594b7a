package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

var _ providers.Resolver = (*Provider)(nil)

// Resolve attributes a deployment made with a workflow's GITHUB_TOKEN
// whose payload does not carry the run (a deployment_protection_rule
// request) to the run's triggering actor, read from the Actions API
// (GET /repos/{owner}/{repo}/actions/runs/{run_id}) with the provider's
// client (the event's App installation, or the token). The payload's own
// fields are never trusted for this: only the run GitHub reports. When the
// look-up fails the event keeps the token's identity, a machine that no
// agent holds, and is refused as an unregistered agent.
func (p *Provider) Resolve(ctx context.Context, ev *event.Event) error {
	if ev.Handles[handleAttributeViaRun] != "true" {
		return nil
	}
	owner, repo, ok := strings.Cut(ev.Repo, "/")
	runID, err := strconv.ParseInt(ev.Handles[handleRunID], 10, 64)
	if !ok || err != nil || runID <= 0 {
		return fmt.Errorf("github: deployment made with %s names no workflow run to attribute it to", ev.Labels[labelToken])
	}
	cl, err := p.api.client(*ev)
	if err != nil {
		return err
	}
	run, _, err := cl.Actions.GetWorkflowRunByID(ctx, owner, repo, runID)
	if err != nil {
		return p.api.classify("read workflow run "+strconv.FormatInt(runID, 10), err)
	}
	a, err := runActor(run, nil)
	if err != nil {
		return fmt.Errorf("github: workflow run %d: %w", runID, err)
	}
	if isTokenIdentity(run.GetTriggeringActor()) || a.principal == ev.Principal {
		return fmt.Errorf("github: workflow run %d was itself triggered by %s; the deployment stays attributed to it", runID, a.principal)
	}
	ev.Principal, ev.Machine, ev.Initiator = a.principal, a.machine, a.initiator
	delete(ev.Handles, handleAttributeViaRun)
	if ev.Labels == nil {
		ev.Labels = map[string]string{}
	}
	ev.Labels["attributed_via"] = "workflow_run"
	return nil
}
