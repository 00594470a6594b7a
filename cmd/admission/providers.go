package main

import (
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/generic"
)

// buildProviders is the explicit provider registry: adding a provider means
// a package, its fixtures, one line here and a docs page.
func buildProviders(cfg config.Config) ([]providers.Provider, error) {
	return []providers.Provider{
		generic.New(cfg.Webhooks.Generic.Secret.Reveal()),
	}, nil
}
