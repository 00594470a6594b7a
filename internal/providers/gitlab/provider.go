package gitlab

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
)

// Name is the provider's name and webhook path segment: POST /webhooks/gitlab.
const Name = "gitlab"

// DefaultBaseURL is GitLab.com.
const DefaultBaseURL = "https://gitlab.com"

// jwksPath is where a GitLab instance publishes the keys of its ID tokens.
const jwksPath = "/oauth/discovery/keys"

// defaultTimeout bounds API and JWKS calls when Options.HTTPClient sets none.
const defaultTimeout = 30 * time.Second

// Options configure the provider.
type Options struct {
	// WebhookToken is the webhook's secret token, which GitLab sends as
	// X-Gitlab-Token. Without it every delivery is refused.
	WebhookToken secret.Secret
	// BaseURL is the GitLab instance: DefaultBaseURL when empty, or the
	// root URL of a self-managed instance (https://gitlab.example.com).
	BaseURL string
	// APIToken is a personal, project, group or service account access
	// token for the REST API, sent as PRIVATE-TOKEN. Without it the
	// provider verifies and parses, and Enforce reports a permanent error
	// when there is something to enforce.
	APIToken secret.Secret
	// ApprovalRule is sent as represented_as with deployment approvals: the
	// approval rule (a group or role name) agentgate's user approves for,
	// when it may approve for several. Empty lets GitLab choose.
	ApprovalRule string
	// RunnerRates are USD per minute by runner tag (case-insensitive);
	// "default" applies when none of a job's tags has a rate.
	RunnerRates map[string]float64
	// Audience is the aud an ID token must carry (the id_tokens aud of the
	// `admission gate` job). Empty disables VerifyIDToken.
	Audience string
	// Issuer is the iss an ID token must carry: BaseURL when empty.
	Issuer string
	// JWKSURL is where the token signing keys are fetched: Issuer +
	// "/oauth/discovery/keys" when empty.
	JWKSURL string
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient supplies the transport and timeout for API and JWKS
	// calls; nil uses http.DefaultTransport with a 30s timeout.
	HTTPClient *http.Client
	// Now is the clock ID tokens are checked against; nil is time.Now.
	Now func() time.Time
}

// Provider implements the GitLab webhook provider, its enforcer and its
// releaser, and verifies CI ID tokens for the gate endpoint. It is safe for
// concurrent use.
type Provider struct {
	token        []byte
	rates        map[string]float64
	approvalRule string
	log          *slog.Logger
	api          *apiClient
	ids          *idTokenVerifier
	web          string
}

var (
	_ providers.Provider     = (*Provider)(nil)
	_ providers.Enforcer     = (*Provider)(nil)
	_ providers.Releaser     = (*Provider)(nil)
	_ providers.CommitLinker = (*Provider)(nil)
)

// CommitURL implements providers.CommitLinker: the commit's page on the
// GitLab instance.
func (p *Provider) CommitURL(repo, sha string) string {
	if repo == "" || sha == "" {
		return ""
	}
	return p.web + "/" + repo + "/-/commit/" + sha
}

// New returns the provider. It fails when a URL is not absolute http(s) or
// a runner rate is negative.
func New(o Options) (*Provider, error) {
	base, err := absoluteURL("base URL", o.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	rates := make(map[string]float64, len(o.RunnerRates))
	for tag, rate := range o.RunnerRates {
		if rate < 0 {
			return nil, fmt.Errorf("gitlab: runner rate for %q is negative", tag)
		}
		rates[strings.ToLower(strings.TrimSpace(tag))] = rate
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("provider", Name)
	hc := &http.Client{Transport: http.DefaultTransport, Timeout: defaultTimeout}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		if c.Timeout <= 0 {
			c.Timeout = defaultTimeout
		}
		hc = &c
	}
	api, err := newAPIClient(base, o.APIToken, hc)
	if err != nil {
		return nil, err
	}
	issuer, err := absoluteURL("OIDC issuer", o.Issuer, base)
	if err != nil {
		return nil, err
	}
	jwks, err := absoluteURL("JWKS URL", o.JWKSURL, issuer+jwksPath)
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Provider{
		token:        []byte(o.WebhookToken.Reveal()),
		rates:        rates,
		approvalRule: strings.TrimSpace(o.ApprovalRule),
		log:          log,
		api:          api,
		ids:          newIDTokenVerifier(strings.TrimSpace(o.Audience), issuer, jwks, hc, now, log),
		web:          strings.TrimSuffix(base, "/"),
	}, nil
}

// Name implements providers.Provider.
func (*Provider) Name() string { return Name }

// absoluteURL checks an absolute http(s) URL (def when raw is empty) and
// returns it without a trailing slash.
func absoluteURL(what, raw, def string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("gitlab: %s %q is not an absolute http(s) URL", what, raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
