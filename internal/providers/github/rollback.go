package github

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
)

// Rollback modes.
const (
	// RollbackRerun re-runs the earlier deployment's workflow run (its
	// run_id handle): the same workflow at the same commit. GitHub re-runs
	// runs up to 30 days old.
	RollbackRerun = "rerun"
	// RollbackDispatch dispatches the earlier deployment's workflow
	// (workflow_path handle) with inputs {sha: <its sha>}; the workflow
	// must declare workflow_dispatch with a "sha" input.
	RollbackDispatch = "dispatch"
	// defaultDispatchRef is dispatched on when the deployment recorded no ref.
	defaultDispatchRef = "main"
)

var (
	_ rollback.Executor     = (*Provider)(nil)
	_ rollback.ReadyChecker = (*Provider)(nil)
)

// RollbackReady implements rollback.ReadyChecker: rolling back needs API
// credentials, a token or a GitHub App.
func (p *Provider) RollbackReady() error {
	if p.api.token == "" && p.api.apps == nil {
		return errors.New("github: no API credentials (github.token, or github.app_id and github.private_key)")
	}
	return nil
}

// Rollback implements rollback.Executor: it re-runs or dispatches the
// workflow of deployment to, through the provider's API client (the token,
// or the installation token of the deployment's installation_id handle).
func (p *Provider) Rollback(ctx context.Context, _ rollback.Target, to store.Deployment) (rollback.Result, error) {
	res := rollback.Result{Provider: Name, Method: p.rollbackMode}
	owner, repo, ok := strings.Cut(to.Repo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return res, rollback.Permanent("github: repo %q is not owner/name", to.Repo)
	}
	if p.rollbackMode == RollbackRerun {
		runID, err := rollback.PositiveHandle(to, "run_id")
		if err != nil {
			return res, err
		}
		cl, err := p.api.client(event.Event{Handles: to.Handles})
		if err != nil {
			return res, err
		}
		op := fmt.Sprintf("re-run run %d of %s", runID, to.Repo)
		if _, err := cl.Actions.RerunWorkflowByID(ctx, owner, repo, runID); err != nil {
			return res, p.api.classify(op, err)
		}
		res.Ref = strconv.FormatInt(runID, 10)
		res.URL = "https://github.com/" + to.Repo + "/actions/runs/" + res.Ref
		res.Steps = append(res.Steps, "POST /repos/"+to.Repo+"/actions/runs/"+res.Ref+"/rerun")
		return res, nil
	}
	workflow := path.Base(strings.TrimSpace(to.Handles["workflow_path"]))
	if workflow == "." || workflow == "/" || workflow == "" {
		return res, rollback.Permanent("github: deployment %s has no workflow_path handle to dispatch", to.ID)
	}
	if to.SHA == "" {
		return res, rollback.Permanent("github: deployment %s has no sha to dispatch", to.ID)
	}
	ref := strings.TrimSpace(to.Ref)
	if ref == "" {
		ref = defaultDispatchRef
	}
	cl, err := p.api.client(event.Event{Handles: to.Handles})
	if err != nil {
		return res, err
	}
	req := gh.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: map[string]any{"sha": to.SHA}}
	if _, err := cl.Actions.CreateWorkflowDispatchEventByFileName(ctx, owner, repo, workflow, req); err != nil {
		return res, p.api.classify("dispatch "+workflow+" of "+to.Repo, err)
	}
	res.Ref = workflow + "@" + to.SHA
	res.Steps = append(res.Steps, "POST /repos/"+to.Repo+"/actions/workflows/"+workflow+"/dispatches")
	return res, nil
}
