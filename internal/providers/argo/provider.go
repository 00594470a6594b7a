package argo

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
)

// Name is the provider's name and path segment: POST /argo/admission,
// POST /argo/gate, POST /webhooks/argo.
const Name = "argo"

// Defaults.
const (
	// DefaultArgoCDNamespace is the namespace of Argo CD's control plane:
	// Applications there are named without their namespace.
	DefaultArgoCDNamespace = "argocd"
	// DefaultServerServiceAccount is the Argo Workflows server's service
	// account in the upstream install manifests.
	DefaultServerServiceAccount = "system:serviceaccount:argo:argo-server"
	// DefaultControllerServiceAccount is the workflow controller's service
	// account in the upstream install manifests.
	DefaultControllerServiceAccount = "system:serviceaccount:argo:argo"
	// defaultTimeout bounds Argo CD API calls when Options.HTTPClient sets none.
	defaultTimeout = 10 * time.Second
)

// Options configure the provider.
type Options struct {
	// HookToken authenticates the Argo CD hook Jobs (POST /argo/gate) and
	// Argo CD notifications (POST /webhooks/argo), sent as
	// "Authorization: Bearer <token>". Without it every request is refused.
	HookToken secret.Secret
	// ArgoCDURL is the Argo CD API server, e.g. https://argocd.example.com.
	// Without it the gate refuses every hook request.
	ArgoCDURL string
	// ArgoCDToken is an Argo CD account's API token with "applications,
	// get" on the governed applications.
	ArgoCDToken secret.Secret
	// ArgoCDNamespace is Argo CD's control-plane namespace
	// (DefaultArgoCDNamespace when empty): an Application there is named
	// "<app>", one elsewhere "<namespace>/<app>".
	ArgoCDNamespace string
	// ServerServiceAccounts are the Kubernetes usernames of Argo Workflows
	// servers (DefaultServerServiceAccount when nil). Their requests are
	// attributed to the workflows.argoproj.io/creator-preferred-username
	// (else creator) label the server sets from the SSO user.
	ServerServiceAccounts []string
	// ControllerServiceAccounts are the Kubernetes usernames of workflow
	// controllers (DefaultControllerServiceAccount when nil). Their
	// requests (status updates, Workflows spawned by a CronWorkflow that
	// was itself admitted) are allowed without a decision.
	ControllerServiceAccounts []string
	// NamespaceEnvironments maps namespace globs (path.Match syntax) to the
	// environment of the Workflows in them: an exact namespace wins, then
	// the longest glob (ties alphabetical). A namespace matching none gives
	// no environment.
	NamespaceEnvironments map[string]string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient supplies the transport and timeout for Argo CD API calls;
	// nil uses http.DefaultTransport with a 10s timeout.
	HTTPClient *http.Client
}

// Provider is the Argo provider: the Argo Workflows validating admission
// webhook (Review, Handler), the Argo CD PreSync/PostSync hook gate
// (providers.SyncGate) and the Argo CD notifications webhook
// (providers.Provider). It is safe for concurrent use.
type Provider struct {
	hookToken   [sha256.Size]byte
	hasToken    bool
	cdNamespace string
	servers     map[string]bool
	controllers map[string]bool
	log         *slog.Logger
	cd          *argoCDClient
	nsEnvs      map[string]string
	nsGlobs     []string // longest first
	templates   atomic.Pointer[templatesBox]
	// attributions says which agent is behind an object the controller
	// spawns Workflows from.
	attributions atomic.Pointer[attributionsBox]
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.SyncGate = (*Provider)(nil)
)

// New returns the provider. It fails when ArgoCDURL is set but is not an
// absolute http(s) URL.
func New(o Options) (*Provider, error) {
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
	var cd *argoCDClient
	if raw := strings.TrimSpace(o.ArgoCDURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("argo: Argo CD URL %q is not an absolute http(s) URL", raw)
		}
		cd = &argoCDClient{base: strings.TrimRight(u.String(), "/"), token: o.ArgoCDToken, hc: hc}
	}
	p := &Provider{
		cdNamespace: strings.TrimSpace(o.ArgoCDNamespace),
		servers:     usernames(o.ServerServiceAccounts, DefaultServerServiceAccount),
		controllers: usernames(o.ControllerServiceAccounts, DefaultControllerServiceAccount),
		log:         log,
		cd:          cd,
	}
	for glob, env := range o.NamespaceEnvironments {
		if _, err := path.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("argo: namespace environment pattern %q: %w", glob, err)
		}
		if p.nsEnvs == nil {
			p.nsEnvs = map[string]string{}
		}
		p.nsEnvs[glob] = strings.TrimSpace(env)
		p.nsGlobs = append(p.nsGlobs, glob)
	}
	sort.Slice(p.nsGlobs, func(i, j int) bool {
		a, b := p.nsGlobs[i], p.nsGlobs[j]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	if p.cdNamespace == "" {
		p.cdNamespace = DefaultArgoCDNamespace
	}
	if tok := o.HookToken.Reveal(); tok != "" {
		p.hookToken, p.hasToken = sha256.Sum256([]byte(tok)), true
	}
	return p, nil
}

// Name implements providers.Provider.
func (*Provider) Name() string { return Name }

// environmentOf is the environment of Workflows in namespace ns: an exact
// entry, else the longest matching glob, else none.
func (p *Provider) environmentOf(ns string) string {
	if env, ok := p.nsEnvs[ns]; ok {
		return env
	}
	for _, g := range p.nsGlobs {
		if ok, _ := path.Match(g, ns); ok {
			return p.nsEnvs[g]
		}
	}
	return ""
}

// usernames is the set of names, or of def when names is nil.
func usernames(names []string, def string) map[string]bool {
	if names == nil {
		names = []string{def}
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			out[n] = true
		}
	}
	return out
}

// checkHookToken authenticates a hook or notification request from its
// "Authorization: Bearer" header, in constant time. It fails closed: with
// no token configured every request is refused.
func (p *Provider) checkHookToken(h http.Header) error {
	if !p.hasToken {
		return apperr.New(apperr.KindUnauthenticated, "argo hook token is not configured (argo.hook_token); refusing every hook request")
	}
	raw, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	raw = strings.TrimSpace(raw)
	if !ok || raw == "" {
		return apperr.New(apperr.KindUnauthenticated, "missing bearer hook token (Authorization: Bearer <argo.hook_token>)")
	}
	got := sha256.Sum256([]byte(raw))
	if subtle.ConstantTimeCompare(got[:], p.hookToken[:]) != 1 {
		return apperr.New(apperr.KindUnauthenticated, "hook token does not match")
	}
	return nil
}

// clip cuts s to at most max bytes without splitting a UTF-8 sequence.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}

// fields is a map of handles or labels that keeps only non-blank values.
type fields map[string]string

// set records v, trimmed and clipped, unless it is blank.
func (f fields) set(k, v string) {
	if v = strings.TrimSpace(v); v != "" {
		f[k] = clip(v, maxHandle)
	}
}

// orNil returns nil for an empty map, so that golden files stay small.
func (f fields) orNil() map[string]string {
	if len(f) == 0 {
		return nil
	}
	return f
}

// Field caps, within event.Validate's limits.
const (
	maxField  = 512
	maxHandle = 2048
	maxPrompt = 8192
)
