package generic

import "github.com/agentgate/agentgate/internal/secret"

// HookConfig is the webhooks.generic section: POST /webhooks/generic.
type HookConfig struct {
	// Secret is the HMAC-SHA256 key. Without it every request is refused.
	Secret secret.Secret `yaml:"secret"`
}

// FromConfig builds the provider from its configuration section.
func FromConfig(hook HookConfig) *Provider { return New(hook.Secret.Reveal()) }
