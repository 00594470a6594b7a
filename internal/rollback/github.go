package rollback

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/store"
)

// GitHub modes.
const (
	// GitHubRerun re-runs the previous deployment's workflow run (its
	// run_id handle): the same workflow at the same commit. GitHub only
	// re-runs runs up to 30 days old.
	GitHubRerun = "rerun"
	// GitHubDispatch dispatches the previous deployment's workflow
	// (workflow_path handle) with inputs {sha: <previous sha>}; the
	// workflow must declare workflow_dispatch with a "sha" input.
	GitHubDispatch = "dispatch"
)

// GitHubConfig configures the GitHub Actions executor.
type GitHubConfig struct {
	// BaseURL is the REST API root; default https://api.github.com
	// (GitHub Enterprise: https://HOST/api/v3).
	BaseURL string
	// Token is a token allowed to write Actions (a GitHub App
	// installation token or a fine-grained token with actions:write).
	Token string
	// Mode is GitHubRerun (default) or GitHubDispatch.
	Mode string
	// DefaultRef is the ref to dispatch on when the deployment recorded
	// none; default "main".
	DefaultRef string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// GitHubExecutor rolls back by re-running or dispatching GitHub Actions.
type GitHubExecutor struct {
	api  apiClient
	mode string
	ref  string
}

// NewGitHubExecutor builds the executor; the mode must be known.
func NewGitHubExecutor(c GitHubConfig) (*GitHubExecutor, error) {
	mode := c.Mode
	if mode == "" {
		mode = GitHubRerun
	}
	if mode != GitHubRerun && mode != GitHubDispatch {
		return nil, fmt.Errorf("github rollback mode %q, want %s or %s", c.Mode, GitHubRerun, GitHubDispatch)
	}
	base := c.BaseURL
	if base == "" {
		base = "https://api.github.com"
	}
	h := http.Header{}
	h.Set("X-GitHub-Api-Version", "2022-11-28")
	h.Set("User-Agent", "agentgate-rollback")
	if c.Token != "" {
		h.Set("Authorization", "Bearer "+c.Token)
	}
	ref := c.DefaultRef
	if ref == "" {
		ref = "main"
	}
	return &GitHubExecutor{api: newAPIClient(ProviderGitHub, base, c.HTTPClient, h), mode: mode, ref: ref}, nil
}

// Rollback implements Executor.
func (g *GitHubExecutor) Rollback(ctx context.Context, t Target, to store.Deployment) (Result, error) {
	owner, repo, ok := strings.Cut(to.Repo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return Result{}, permanent("github: repo %q is not owner/name", to.Repo)
	}
	prefix := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo) + "/actions"
	res := Result{Provider: ProviderGitHub, Method: g.mode}
	if g.mode == GitHubRerun {
		runID, err := positiveInt(to, "run_id")
		if err != nil {
			return res, err
		}
		p := prefix + "/runs/" + strconv.FormatInt(runID, 10) + "/rerun"
		if err := g.api.do(ctx, http.MethodPost, p, nil, nil); err != nil {
			return res, err
		}
		res.Ref = strconv.FormatInt(runID, 10)
		res.URL = "https://github.com/" + to.Repo + "/actions/runs/" + res.Ref
		res.Steps = append(res.Steps, "POST "+p)
		return res, nil
	}
	workflow := path.Base(strings.TrimSpace(to.Handles["workflow_path"]))
	if workflow == "." || workflow == "/" || workflow == "" {
		return res, permanent("github: deployment %s has no workflow_path handle to dispatch", to.ID)
	}
	if to.SHA == "" {
		return res, permanent("github: deployment %s has no sha to dispatch", to.ID)
	}
	ref := strings.TrimSpace(to.Ref)
	if ref == "" {
		ref = g.ref
	}
	p := prefix + "/workflows/" + url.PathEscape(workflow) + "/dispatches"
	body := map[string]any{"ref": ref, "inputs": map[string]string{"sha": to.SHA}}
	if err := g.api.do(ctx, http.MethodPost, p, body, nil); err != nil {
		return res, err
	}
	res.Ref = workflow + "@" + to.SHA
	res.Steps = append(res.Steps, "POST "+p)
	return res, nil
}
