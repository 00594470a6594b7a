package main

import (
	"log/slog"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/argo"
	"github.com/agentgate/agentgate/internal/providers/generic"
	"github.com/agentgate/agentgate/internal/providers/github"
	"github.com/agentgate/agentgate/internal/providers/gitlab"
)

// buildProviders is the explicit provider registry: adding a provider means
// a package, its fixtures, one line here and a docs page.
func buildProviders(cfg config.Config, log *slog.Logger) ([]providers.Provider, error) {
	gh, err := github.New(github.Options{
		WebhookSecret: cfg.Webhooks.GitHub.Secret, Token: cfg.GitHub.Token, AppID: cfg.GitHub.AppID,
		PrivateKey: cfg.GitHub.PrivateKey, BaseURL: cfg.GitHub.BaseURL, RunnerRates: cfg.GitHub.RunnerRates,
		RollbackMode: cfg.Rollback.GitHubMode, Logger: log.With("provider", github.Name),
	})
	if err != nil {
		return nil, err
	}
	gl, err := gitlab.New(gitlab.Options{
		WebhookToken: cfg.Webhooks.GitLab.Token, BaseURL: cfg.GitLab.BaseURL, APIToken: cfg.GitLab.APIToken,
		ApprovalRule: cfg.GitLab.ApprovalRule, RunnerRates: cfg.GitLab.RunnerRates, Audience: cfg.GitLab.OIDCAudience,
		Issuer: cfg.GitLab.OIDCIssuer, JWKSURL: cfg.GitLab.OIDCJWKSURL, Logger: log.With("provider", gitlab.Name),
	})
	if err != nil {
		return nil, err
	}
	ar, err := argo.New(argo.Options{
		HookToken: cfg.Argo.HookToken, ArgoCDURL: cfg.Argo.ArgoCDURL, ArgoCDToken: cfg.Argo.ArgoCDToken,
		ArgoCDNamespace: cfg.Argo.ArgoCDNamespace, ServerServiceAccounts: cfg.Argo.ServerServiceAccounts,
		ControllerServiceAccounts: cfg.Argo.ControllerServiceAccounts, NamespaceEnvironments: cfg.Argo.NamespaceEnvironments,
		Logger: log.With("provider", argo.Name),
	})
	if err != nil {
		return nil, err
	}
	return []providers.Provider{
		generic.New(cfg.Webhooks.Generic.Secret.Reveal()),
		gh,
		gl,
		ar,
	}, nil
}
