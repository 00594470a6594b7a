package gitlab

import (
	"context"
	"net/url"
	"strconv"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
)

var (
	_ rollback.Executor     = (*Provider)(nil)
	_ rollback.ReadyChecker = (*Provider)(nil)
)

// RollbackReady implements rollback.ReadyChecker: retrying a job needs
// gitlab.api_token.
func (p *Provider) RollbackReady() error {
	_, err := p.api.client()
	return err
}

// Rollback implements rollback.Executor the way GitLab's own environment
// rollback does: it retries the job that made the earlier deployment (its
// deployable_id handle) in the project of its project_id handle, else of
// its path, through the provider's API client (gitlab.api_token).
func (p *Provider) Rollback(ctx context.Context, _ rollback.Target, to store.Deployment) (rollback.Result, error) {
	res := rollback.Result{Provider: Name, Method: "job_retry"}
	jobID, err := rollback.PositiveHandle(to, "deployable_id")
	if err != nil {
		return res, err
	}
	var project any = to.Repo
	if id, err := strconv.ParseInt(to.Handles["project_id"], 10, 64); err == nil && id > 0 {
		project = id
	} else if to.Repo == "" {
		return res, rollback.Permanent("gitlab: deployment %s names no project", to.ID)
	}
	cl, err := p.api.client()
	if err != nil {
		return res, err
	}
	job, resp, err := cl.Jobs.RetryJob(project, jobID, gl.WithContext(ctx))
	if err != nil {
		return res, p.api.classify("retry job "+strconv.FormatInt(jobID, 10), resp, err)
	}
	res.Steps = append(res.Steps, "POST /api/v4/projects/"+apiProject(project)+"/jobs/"+strconv.FormatInt(jobID, 10)+"/retry")
	if job != nil {
		res.Ref, res.URL = strconv.FormatInt(job.ID, 10), job.WebURL
	}
	return res, nil
}

// apiProject is a project id or its URL-encoded path, as the API takes it.
func apiProject(project any) string {
	switch v := project.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		return url.PathEscape(v)
	}
	return ""
}
