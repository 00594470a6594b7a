package main

import (
	"log/slog"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/generic"
	"github.com/agentgate/agentgate/internal/providers/github"
)

// buildProviders is the explicit provider registry: adding a provider means
// a package, its fixtures, one line here and a docs page.
func buildProviders(cfg config.Config, log *slog.Logger) ([]providers.Provider, error) {
	gh, err := github.New(github.Options{
		WebhookSecret: cfg.Webhooks.GitHub.Secret, Token: cfg.GitHub.Token, AppID: cfg.GitHub.AppID,
		PrivateKey: cfg.GitHub.PrivateKey, BaseURL: cfg.GitHub.BaseURL, RunnerRates: cfg.GitHub.RunnerRates,
		Logger: log.With("provider", github.Name),
	})
	if err != nil {
		return nil, err
	}
	return []providers.Provider{
		generic.New(cfg.Webhooks.Generic.Secret.Reveal()),
		gh,
	}, nil
}
