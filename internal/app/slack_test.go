package app

import (
	"testing"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/generic"
	"github.com/agentgate/agentgate/internal/providers/github"
	"github.com/agentgate/agentgate/internal/providers/gitlab"
	"github.com/agentgate/agentgate/internal/store"
)

func TestCommitURL(t *testing.T) {
	tests := []struct {
		name      string
		provider  string
		githubAPI string
		gitlabURL string
		want      string
	}{
		{name: "github.com", provider: "github", want: "https://github.com/acme/api/commit/abc"},
		{name: "github.com api url", provider: "github", githubAPI: "https://api.github.com/", want: "https://github.com/acme/api/commit/abc"},
		{name: "github enterprise", provider: "github", githubAPI: "https://ghe.example.com/api/v3/", want: "https://ghe.example.com/acme/api/commit/abc"},
		{name: "gitlab.com", provider: "gitlab", want: "https://gitlab.com/acme/api/-/commit/abc"},
		{name: "self-managed gitlab", provider: "gitlab", gitlabURL: "https://gitlab.example.com/", want: "https://gitlab.example.com/acme/api/-/commit/abc"},
		{name: "no web page", provider: "generic", want: ""},
		{name: "no such provider", provider: "jenkins", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gh, err := github.New(github.Options{BaseURL: tc.githubAPI})
			if err != nil {
				t.Fatal(err)
			}
			gl, err := gitlab.New(gitlab.Options{BaseURL: tc.gitlabURL})
			if err != nil {
				t.Fatal(err)
			}
			reg, err := providers.NewRegistry(gh, gl, generic.New(""))
			if err != nil {
				t.Fatal(err)
			}
			a := &App{providers: reg}
			if got := a.commitURL(store.Approval{Provider: tc.provider, Repo: "acme/api", SHA: "abc"}); got != tc.want {
				t.Fatalf("= %q, want %q", got, tc.want)
			}
		})
	}
}

func TestQueryFor(t *testing.T) {
	c := config.Rollback{Query: "default", Queries: map[string]string{"acme/api": "api", "acme/api@production": "api-prod"}}
	tests := []struct {
		name, repo, env, want string
	}{
		{name: "repo and environment", repo: "acme/api", env: "production", want: "api-prod"},
		{name: "repo", repo: "acme/api", env: "staging", want: "api"},
		{name: "default", repo: "acme/web", env: "production", want: "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := queryFor(c, store.Deployment{Repo: tc.repo, Environment: tc.env}); got != tc.want {
				t.Fatalf("= %q, want %q", got, tc.want)
			}
		})
	}
}
