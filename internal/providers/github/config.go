package github

import (
	"log/slog"
	"time"

	"github.com/agentgate/agentgate/internal/secret"
)

// Config is the github section of agentgate's configuration: calls to the
// GitHub API that enforce decisions, release held changes and roll back.
type Config struct {
	// BaseURL is https://api.github.com/ by default, or
	// https://HOST/api/v3/ for GitHub Enterprise Server.
	BaseURL string `yaml:"base_url"`
	// AppID and PrivateKey authenticate as a GitHub App (installation
	// tokens per event); Token is the simpler alternative. Not both.
	AppID      int64         `yaml:"app_id"`
	PrivateKey secret.Secret `yaml:"private_key"`
	Token      secret.Secret `yaml:"token"`
	// RunnerRates are USD per runner minute by runner label; "default"
	// applies when no label of a job has a rate.
	RunnerRates map[string]float64 `yaml:"runner_rates"`
	// Redelivery asks GitHub to deliver again the App webhook deliveries
	// that failed (GitHub never does so by itself). It needs App
	// credentials; it runs on the leader.
	Redelivery RedeliveryConfig `yaml:"redelivery"`
}

// RedeliveryConfig configures the scan for failed GitHub deliveries.
type RedeliveryConfig struct {
	// Interval is how often the deliveries are scanned (default 5m; 0
	// turns the scan off). A scan also runs as soon as the store is back
	// after an outage.
	Interval time.Duration `yaml:"interval"`
	// Lookback is how far back a scan looks (default 24h, at most 72h,
	// which is as long as GitHub keeps deliveries).
	Lookback time.Duration `yaml:"lookback"`
}

// HookConfig is the webhooks.github section: POST /webhooks/github.
type HookConfig struct {
	// Secret is the webhook secret (X-Hub-Signature-256). Without it every
	// delivery is refused.
	Secret secret.Secret `yaml:"secret"`
}

// DefaultConfig is the github section's defaults.
func DefaultConfig() Config {
	return Config{Redelivery: RedeliveryConfig{Interval: 5 * time.Minute, Lookback: 24 * time.Hour}}
}

// Validate reports each problem of the section through bad, with its key
// relative to the section ("app_id", "redelivery.interval").
func (c Config) Validate(bad func(key, format string, args ...any)) {
	if c.AppID != 0 && c.Token.IsSet() {
		bad("token", "set either github.app_id with github.private_key, or github.token, not both")
	}
	if c.AppID != 0 && !c.PrivateKey.IsSet() {
		bad("private_key", "is required with github.app_id")
	}
	if c.AppID == 0 && c.PrivateKey.IsSet() {
		bad("app_id", "is required with github.private_key")
	}
	if r := c.Redelivery; r.Interval < 0 || (r.Interval > 0 && r.Interval < 10*time.Second) {
		bad("redelivery.interval", "must be 0 (off) or at least 10s")
	}
	if r := c.Redelivery; r.Lookback < time.Minute || r.Lookback > 72*time.Hour {
		bad("redelivery.lookback", "must be between 1m and 72h (GitHub keeps deliveries for 3 days)")
	}
	if c.AppID < 0 {
		bad("app_id", "must be positive")
	}
	for label, rate := range c.RunnerRates {
		if rate < 0 {
			bad("runner_rates."+label, "must not be negative")
		}
	}
}

// FromConfig builds the provider from its configuration sections; mode is
// how it rolls back (rollback.github_mode).
func FromConfig(c Config, hook HookConfig, mode string, log *slog.Logger) (*Provider, error) {
	return New(Options{
		WebhookSecret: hook.Secret, Token: c.Token, AppID: c.AppID, PrivateKey: c.PrivateKey,
		BaseURL: c.BaseURL, RunnerRates: c.RunnerRates, RollbackMode: mode, Logger: log,
	})
}
