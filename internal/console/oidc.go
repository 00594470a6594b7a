package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ssoCookie carries one sign-in's state, nonce and PKCE verifier from
// /ui/oidc/start to the callback, sealed under its own purpose.
const ssoCookie = "agentgate_sso"

// ssoTTL is how long a person has at the identity provider.
const ssoTTL = 10 * time.Minute

// Bounds on what a session keeps of the provider's groups, so that the
// cookie stays under browsers' 4 KiB.
const (
	maxGroups     = 50
	maxGroupBytes = 1500
)

// CallbackPath is where the identity provider sends the browser back; the
// client's redirect URL must end in it.
const CallbackPath = "/ui/oidc/callback"

// OIDC configures single sign-on with an OpenID Connect provider
// (authorization code flow with PKCE).
type OIDC struct {
	// Issuer is the provider's issuer URL (discovery is read from it).
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this console's callback as registered at the
	// provider: https://HOST/ui/oidc/callback.
	RedirectURL string
	// Scopes asked for besides openid; email and profile when empty.
	Scopes []string
	// NameClaim names the person (email when empty). When it is email, an
	// email_verified of false is refused.
	NameClaim string
	// RolesClaim holds the person's groups or roles: a string or a list
	// of strings (groups when empty).
	RolesClaim string
	// Roles maps a value of RolesClaim to viewer, operator or admin; the
	// highest applies. The key "*" gives a role to everyone the provider
	// signs in. Someone with no role is refused.
	Roles map[string]string
	// Label is the sign-in button's text ("Sign in with single sign-on").
	Label string
	// Client makes the calls to the provider; a 10 s timeout when nil.
	Client *http.Client
}

// sso is the single sign-on flow. The provider's discovery document is
// read at the first sign-in, and again after a failure, so a provider
// that is down does not stop the server from starting.
type sso struct {
	o    OIDC
	ctx  context.Context // carries o.Client for discovery and the key set
	mu   sync.Mutex
	conf *oauth2.Config
	ver  *oidc.IDTokenVerifier
}

// ssoFlow is what the sign-in cookie holds.
type ssoFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

func newSSO(o OIDC) (*sso, error) {
	if o.Issuer == "" || o.ClientID == "" || o.RedirectURL == "" {
		return nil, errors.New("console: single sign-on needs an issuer, a client id and a redirect URL")
	}
	if !strings.HasSuffix(o.RedirectURL, CallbackPath) {
		return nil, fmt.Errorf("console: the single sign-on redirect URL must end in %s", CallbackPath)
	}
	if len(o.Roles) == 0 {
		return nil, errors.New("console: single sign-on needs roles: which groups are viewers, operators and admins")
	}
	for group, role := range o.Roles {
		if rank(role) == 0 {
			return nil, fmt.Errorf("console: single sign-on role of %q is %q, not viewer, operator or admin", group, role)
		}
	}
	if o.NameClaim == "" {
		o.NameClaim = "email"
	}
	if o.RolesClaim == "" {
		o.RolesClaim = "groups"
	}
	if len(o.Scopes) == 0 {
		o.Scopes = []string{"email", "profile"}
	}
	if o.Label == "" {
		o.Label = "Sign in with single sign-on"
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	// The key set keeps the context it is made with for its later
	// fetches: it must not be a request's.
	return &sso{o: o, ctx: oidc.ClientContext(context.Background(), o.Client)}, nil
}

// rank orders the roles; 0 for anything else.
func rank(role string) int {
	switch role {
	case "viewer":
		return 1
	case "operator":
		return 2
	case "admin":
		return 3
	}
	return 0
}

// discover returns the OAuth 2 client and the ID token verifier.
func (f *sso) discover() (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conf != nil {
		return f.conf, f.ver, nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, f.o.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discover %s: %w", f.o.Issuer, err)
	}
	f.ver = p.VerifierContext(f.ctx, &oidc.Config{ClientID: f.o.ClientID})
	f.conf = &oauth2.Config{ClientID: f.o.ClientID, ClientSecret: f.o.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: f.o.RedirectURL, Scopes: append([]string{oidc.ScopeOpenID}, f.o.Scopes...)}
	return f.conf, f.ver, nil
}

// ssoStart is GET /ui/oidc/start: it sends the browser to the provider
// with a fresh state, nonce and PKCE challenge, kept in a sealed cookie.
func (c *Console) ssoStart(w http.ResponseWriter, r *http.Request) {
	conf, _, err := c.sso.discover()
	if err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: single sign-on unavailable", "err", err)
		c.render(w, http.StatusBadGateway, "error.html", pageData{Title: "Sign in",
			Message: "The identity provider could not be reached; try again, or sign in with an API token."})
		return
	}
	flow := ssoFlow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Expires: c.o.Now().Add(ssoTTL).Unix()}
	value, err := c.seal.sealAs(purposeSSO, flow)
	if err != nil {
		c.render(w, http.StatusInternalServerError, "error.html", pageData{Title: "Sign in", Message: "The sign-in could not be started."})
		return
	}
	// Lax, not Strict: the provider's redirect back is a cross-site
	// navigation, and a Strict cookie would not come with it.
	ck := c.cookie(ssoCookie, value, ssoTTL)
	ck.SameSite = http.SameSiteLaxMode
	http.SetCookie(w, ck)
	http.Redirect(w, r, conf.AuthCodeURL(flow.State, oauth2.S256ChallengeOption(flow.Verifier), oidc.Nonce(flow.Nonce)), http.StatusFound)
}

// ssoRefusal is a sign-in that did not complete: status and what the
// person is told; the log gets the detail.
type ssoRefusal struct {
	status int
	msg    string
	detail error
}

func (e *ssoRefusal) Error() string { return e.msg }

func refuse(status int, msg string, detail error) *ssoRefusal {
	return &ssoRefusal{status: status, msg: msg, detail: detail}
}

// ssoCallback is GET /ui/oidc/callback: the provider's answer. The state
// must be this browser's, the code is exchanged with the PKCE verifier,
// and the ID token must be signed by the provider for this client, fresh
// and carry this sign-in's nonce; the person's role comes from the roles
// claim.
func (c *Console) ssoCallback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, c.cookie(ssoCookie, "", -1))
	p, err := c.ssoPerson(r)
	if err != nil {
		var ref *ssoRefusal
		if !errors.As(err, &ref) {
			ref = refuse(http.StatusBadGateway, "The sign-in could not be completed; try again.", err)
		}
		c.o.Logger.WarnContext(r.Context(), "console: single sign-on refused", "reason", ref.msg, "err", ref.detail)
		token := randomToken()
		http.SetCookie(w, c.cookie(loginCookie, token, 30*time.Minute))
		c.render(w, ref.status, "login.html", pageData{Title: "Sign in", CSRF: token, Message: ref.msg, Data: c.loginData()})
		return
	}
	c.startSession(w, r, p, "oidc")
}

func (c *Console) ssoPerson(r *http.Request) (Person, error) {
	q := r.URL.Query()
	ck, err := r.Cookie(ssoCookie)
	var flow ssoFlow
	if err == nil {
		err = c.seal.openAs(purposeSSO, ck.Value, &flow)
	}
	if err != nil || c.o.Now().Unix() >= flow.Expires {
		return Person{}, refuse(http.StatusForbidden, "This sign-in was not started here or took too long; sign in again.", err)
	}
	if !sameToken(q.Get("state"), flow.State) {
		return Person{}, refuse(http.StatusForbidden, "This sign-in was not started here; sign in again.", errors.New("state does not match"))
	}
	if e := q.Get("error"); e != "" {
		return Person{}, refuse(http.StatusForbidden, "The identity provider refused the sign-in: "+e+" "+q.Get("error_description"), nil)
	}
	conf, ver, err := c.sso.discover()
	if err != nil {
		return Person{}, err
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, c.sso.o.Client)
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		return Person{}, refuse(http.StatusBadGateway, "The identity provider did not accept the sign-in; sign in again.", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Person{}, refuse(http.StatusBadGateway, "The identity provider sent no ID token.", nil)
	}
	idt, err := ver.Verify(ctx, raw)
	if err != nil {
		return Person{}, refuse(http.StatusForbidden, "The identity provider's token is not valid for this console.", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		return Person{}, refuse(http.StatusForbidden, "The identity provider's token is not for this sign-in.", errors.New("nonce does not match"))
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Person{}, refuse(http.StatusBadGateway, "The identity provider's token could not be read.", err)
	}
	return c.sso.person(claims)
}

// person maps verified claims to a person, or refuses.
func (f *sso) person(claims map[string]any) (Person, error) {
	name, _ := claims[f.o.NameClaim].(string)
	name = strings.TrimSpace(name)
	if name == "" {
		return Person{}, refuse(http.StatusForbidden, "The identity provider did not say who you are (claim "+f.o.NameClaim+").", nil)
	}
	if f.o.NameClaim == "email" {
		if v, ok := claims["email_verified"].(bool); ok && !v {
			return Person{}, refuse(http.StatusForbidden, "Your e-mail address is not verified at the identity provider.", nil)
		}
	}
	groups := claimStrings(claims[f.o.RolesClaim])
	role := f.o.Roles["*"]
	for _, g := range groups {
		if r := f.o.Roles[g]; rank(r) > rank(role) {
			role = r
		}
	}
	if rank(role) == 0 {
		return Person{}, refuse(http.StatusForbidden, "You are signed in at the identity provider as "+name+", but none of your groups has a role in this console.", nil)
	}
	p := Person{Name: name, Role: role, Groups: keepGroups(groups)}
	for _, k := range []string{"email", "preferred_username"} {
		if a, _ := claims[k].(string); a != "" && !strings.EqualFold(a, name) {
			p.Aliases = append(p.Aliases, a)
		}
	}
	return p, nil
}

// claimStrings reads a claim that is a string or a list of strings.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// keepGroups bounds the groups a session carries.
func keepGroups(groups []string) []string {
	var out []string
	size := 0
	for _, g := range groups {
		if len(out) == maxGroups || size+len(g) > maxGroupBytes {
			break
		}
		out = append(out, g)
		size += len(g)
	}
	return out
}
