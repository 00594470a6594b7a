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

// buildProviders is the explicit provider registry: one line per provider,
// each built from its own configuration sections. Adding a provider means
// its package, its fixtures in testdata/, one line here (and its section in
// config.Config) and a docs page: see docs/architecture.md.
func buildProviders(cfg config.Config, log *slog.Logger) ([]providers.Provider, error) {
	var ps []providers.Provider
	add := func(p providers.Provider, err error) error {
		if err == nil {
			ps = append(ps, p)
		}
		return err
	}
	for _, err := range []error{
		add(generic.FromConfig(cfg.Webhooks.Generic), nil),
		add(github.FromConfig(cfg.GitHub, cfg.Webhooks.GitHub, cfg.Rollback.GitHubMode, log)),
		add(gitlab.FromConfig(cfg.GitLab, cfg.Webhooks.GitLab, log)),
		add(argo.FromConfig(cfg.Argo, log)),
	} {
		if err != nil {
			return nil, err
		}
	}
	return ps, nil
}
