package rollback

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/agentgate/agentgate/internal/store"
)

// GitLabConfig configures the GitLab executor.
type GitLabConfig struct {
	// BaseURL is the instance root; default https://gitlab.com.
	BaseURL string
	// Token is a token with the api scope (a project or group access
	// token with Developer role can retry jobs).
	Token string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// GitLabExecutor rolls back the way GitLab's own environment rollback does:
// it retries the job that made the previous deployment (deployable_id).
type GitLabExecutor struct{ api apiClient }

// NewGitLabExecutor builds the executor.
func NewGitLabExecutor(c GitLabConfig) *GitLabExecutor {
	base := c.BaseURL
	if base == "" {
		base = "https://gitlab.com"
	}
	h := http.Header{}
	if c.Token != "" {
		h.Set("PRIVATE-TOKEN", c.Token)
	}
	return &GitLabExecutor{api: newAPIClient(ProviderGitLab, base, c.HTTPClient, h)}
}

// Rollback implements Executor: POST /api/v4/projects/{id}/jobs/{deployable_id}/retry,
// where id is the project_id handle or else the URL-encoded project path.
func (g *GitLabExecutor) Rollback(ctx context.Context, t Target, to store.Deployment) (Result, error) {
	res := Result{Provider: ProviderGitLab, Method: "job_retry"}
	jobID, err := positiveInt(to, "deployable_id")
	if err != nil {
		return res, err
	}
	project := to.Handles["project_id"]
	if _, err := strconv.ParseInt(project, 10, 64); err != nil {
		if to.Repo == "" {
			return res, permanent("gitlab: deployment %s names no project", to.ID)
		}
		project = url.PathEscape(to.Repo)
	}
	p := "/api/v4/projects/" + project + "/jobs/" + strconv.FormatInt(jobID, 10) + "/retry"
	var job struct {
		ID     int64  `json:"id"`
		WebURL string `json:"web_url"`
	}
	if err := g.api.do(ctx, http.MethodPost, p, nil, &job); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "POST "+p)
	res.Ref, res.URL = strconv.FormatInt(job.ID, 10), job.WebURL
	return res, nil
}
