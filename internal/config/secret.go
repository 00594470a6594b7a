package config

import "github.com/agentgate/agentgate/internal/secret"

// Secret is a configuration secret that redacts itself (see package secret).
type Secret = secret.Secret

// NewSecret wraps a secret value and where it came from.
func NewSecret(v, from string) Secret { return secret.New(v, from) }
