package gitlab

import (
	"log/slog"

	"github.com/agentgate/agentgate/internal/secret"
)

// Config is the gitlab section of agentgate's configuration: calls to the
// GitLab API and the verification of CI job ID tokens for the admission
// gate.
type Config struct {
	// BaseURL is https://gitlab.com by default, or a self-managed instance.
	BaseURL string `yaml:"base_url"`
	// APIToken (scope api) cancels pipelines, sets commit statuses,
	// approves deployments and retries jobs to roll back.
	APIToken secret.Secret `yaml:"api_token"`
	// ApprovalRule is the protected environment approval rule agentgate
	// approves as (represented_as), when the environment has several.
	ApprovalRule string `yaml:"approval_rule"`
	// RunnerRates are USD per job minute by runner tag; "default" applies
	// when no tag of a job has a rate.
	RunnerRates map[string]float64 `yaml:"runner_rates"`
	// OIDCAudience is the aud that job ID tokens must carry (id_tokens
	// aud in .gitlab-ci.yml). Without it admission gate refuses every job.
	OIDCAudience string `yaml:"oidc_audience"`
	// OIDCIssuer defaults to BaseURL; OIDCJWKSURL to the issuer's
	// /oauth/discovery/keys.
	OIDCIssuer  string `yaml:"oidc_issuer"`
	OIDCJWKSURL string `yaml:"oidc_jwks_url"`
}

// HookConfig is the webhooks.gitlab section: POST /webhooks/gitlab.
type HookConfig struct {
	// Token is the hook's secret token (X-Gitlab-Token). Without it every
	// delivery is refused.
	Token secret.Secret `yaml:"token"`
}

// Validate reports each problem of the section through bad, with its key
// relative to the section.
func (c Config) Validate(bad func(key, format string, args ...any)) {
	for tag, rate := range c.RunnerRates {
		if rate < 0 {
			bad("runner_rates."+tag, "must not be negative")
		}
	}
}

// FromConfig builds the provider from its configuration sections.
func FromConfig(c Config, hook HookConfig, log *slog.Logger) (*Provider, error) {
	return New(Options{
		WebhookToken: hook.Token, BaseURL: c.BaseURL, APIToken: c.APIToken, ApprovalRule: c.ApprovalRule,
		RunnerRates: c.RunnerRates, Audience: c.OIDCAudience, Issuer: c.OIDCIssuer, JWKSURL: c.OIDCJWKSURL, Logger: log,
	})
}
