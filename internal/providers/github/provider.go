package github

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
)

// Name is the provider's name and webhook path segment: POST /webhooks/github.
const Name = "github"

// DefaultBaseURL is GitHub.com's REST API.
const DefaultBaseURL = "https://api.github.com/"

// Options configure the provider.
type Options struct {
	// WebhookSecret is the webhook's secret. Without it every delivery is
	// refused.
	WebhookSecret secret.Secret
	// Token is a token for the REST API (a fine-grained or classic personal
	// access token, or an installation token managed elsewhere), sent as
	// "Authorization: Bearer". Mutually exclusive with AppID.
	Token secret.Secret
	// AppID and PrivateKey (PEM, PKCS#1 or PKCS#8 RSA) authenticate as a
	// GitHub App; each call uses an installation token of the installation
	// named by the event's "installation_id" handle.
	AppID      int64
	PrivateKey secret.Secret
	// BaseURL is the REST API root: DefaultBaseURL when empty, or
	// https://HOST/api/v3/ for GitHub Enterprise Server.
	BaseURL string
	// RunnerRates are USD per minute by runner label (case-insensitive);
	// "default" applies when none of a job's labels has a rate.
	RunnerRates map[string]float64
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient supplies the transport and timeout for API calls; nil uses
	// http.DefaultTransport with a 30s timeout.
	HTTPClient *http.Client
	// RollbackMode is how Rollback returns to an earlier deployment:
	// RollbackRerun (the default) or RollbackDispatch.
	RollbackMode string
}

// Provider implements the GitHub webhook provider, its enforcer and its
// releaser. It is safe for concurrent use.
type Provider struct {
	secret       []byte
	rates        map[string]float64
	log          *slog.Logger
	api          *apiClient
	rollbackMode string
}

var (
	_ providers.Provider     = (*Provider)(nil)
	_ providers.Enforcer     = (*Provider)(nil)
	_ providers.Releaser     = (*Provider)(nil)
	_ providers.CommitLinker = (*Provider)(nil)
)

// CommitURL implements providers.CommitLinker: the commit's page on
// github.com, or on the GitHub Enterprise Server whose API is BaseURL.
func (p *Provider) CommitURL(repo, sha string) string {
	if repo == "" || sha == "" {
		return ""
	}
	web := "https://github.com"
	if b := strings.TrimSuffix(p.api.base.String(), "/"); !strings.Contains(b, "api.github.com") {
		web = strings.TrimSuffix(b, "/api/v3")
	}
	return web + "/" + repo + "/commit/" + sha
}

// New returns the provider. It fails when the API credentials are
// inconsistent (a token and an App, an App without a usable key), the base
// URL is not absolute, or a runner rate is negative. With no credentials it
// verifies and parses, and Enforce reports a permanent error when there is
// something to enforce.
func New(o Options) (*Provider, error) {
	rates := make(map[string]float64, len(o.RunnerRates))
	for label, rate := range o.RunnerRates {
		if rate < 0 {
			return nil, fmt.Errorf("github: runner rate for %q is negative", label)
		}
		rates[strings.ToLower(strings.TrimSpace(label))] = rate
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	api, err := newAPIClient(o)
	if err != nil {
		return nil, err
	}
	mode := o.RollbackMode
	switch mode {
	case "":
		mode = RollbackRerun
	case RollbackRerun, RollbackDispatch:
	default:
		return nil, fmt.Errorf("github: rollback mode %q, want %s or %s", mode, RollbackRerun, RollbackDispatch)
	}
	return &Provider{
		secret:       []byte(o.WebhookSecret.Reveal()),
		rates:        rates,
		log:          log.With("provider", Name),
		api:          api,
		rollbackMode: mode,
	}, nil
}

// Name implements providers.Provider.
func (*Provider) Name() string { return Name }
