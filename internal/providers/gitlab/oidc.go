package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/providers"
)

// ID token verification limits.
const (
	// clockSkew is the leeway for exp, nbf and iat.
	clockSkew = 30 * time.Second
	// keysMaxAge is how long fetched keys are used before a refetch.
	keysMaxAge = time.Hour
	// keysMinRefresh spaces refetches on unknown key ids, so that tokens
	// with made-up key ids cannot make agentgate hammer GitLab.
	keysMinRefresh = 30 * time.Second
	// maxIDToken and maxJWKS cap the token and the key set read.
	maxIDToken = 16 << 10
	maxJWKS    = 1 << 20
)

// allowedAlg reports whether a signature algorithm is accepted: asymmetric
// ones only (GitLab signs with RS256), never "none" or an HMAC.
func allowedAlg(name string) bool {
	switch name {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512":
		return true
	}
	return false
}

// Claims are the claims of a GitLab CI/CD ID token (a job's id_tokens) that
// agentgate reads. GitLab sends most ids and flags as strings; they are kept
// as strings, booleans parsed.
type Claims struct {
	Issuer               string    `json:"iss"`
	Subject              string    `json:"sub"`
	Audience             []string  `json:"aud"`
	ExpiresAt            time.Time `json:"exp"`
	IssuedAt             time.Time `json:"iat"`
	NamespaceID          string    `json:"namespace_id"`
	NamespacePath        string    `json:"namespace_path"`
	ProjectID            string    `json:"project_id"`
	ProjectPath          string    `json:"project_path"`
	UserID               string    `json:"user_id"`
	UserLogin            string    `json:"user_login"`
	PipelineID           string    `json:"pipeline_id"`
	PipelineSource       string    `json:"pipeline_source"`
	JobID                string    `json:"job_id"`
	Ref                  string    `json:"ref"`
	RefType              string    `json:"ref_type"`
	RefPath              string    `json:"ref_path"`
	RefProtected         bool      `json:"ref_protected"`
	SHA                  string    `json:"sha"`
	Environment          string    `json:"environment"`
	EnvironmentProtected bool      `json:"environment_protected"`
	DeploymentTier       string    `json:"deployment_tier"`
	EnvironmentAction    string    `json:"environment_action"`
	RunnerID             string    `json:"runner_id"`
	RunnerEnvironment    string    `json:"runner_environment"`
}

// flex decodes a claim GitLab may send as a string, a number or a boolean.
type flex string

func (f *flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*f = flex(strconv.FormatFloat(x, 'f', -1, 64))
	case bool:
		*f = flex(strconv.FormatBool(x))
	default:
		return fmt.Errorf("claim is %T, want a string, number or boolean", v)
	}
	return nil
}

// rawClaims is the token payload as GitLab sends it.
type rawClaims struct {
	Iss, Sub             flex
	Aud                  json.RawMessage
	Exp, Iat             flex
	NamespaceID          flex `json:"namespace_id"`
	NamespacePath        flex `json:"namespace_path"`
	ProjectID            flex `json:"project_id"`
	ProjectPath          flex `json:"project_path"`
	UserID               flex `json:"user_id"`
	UserLogin            flex `json:"user_login"`
	PipelineID           flex `json:"pipeline_id"`
	PipelineSource       flex `json:"pipeline_source"`
	JobID                flex `json:"job_id"`
	Ref                  flex
	RefType              flex `json:"ref_type"`
	RefPath              flex `json:"ref_path"`
	RefProtected         flex `json:"ref_protected"`
	SHA                  flex
	Environment          flex
	EnvironmentProtected flex `json:"environment_protected"`
	DeploymentTier       flex `json:"deployment_tier"`
	EnvironmentAction    flex `json:"environment_action"`
	RunnerID             flex `json:"runner_id"`
	RunnerEnvironment    flex `json:"runner_environment"`
}

func (r *rawClaims) claims() Claims {
	unix := func(f flex) time.Time {
		n, err := strconv.ParseFloat(string(f), 64)
		if err != nil || n <= 0 || n > 1e11 {
			return time.Time{}
		}
		return time.Unix(int64(n), 0).UTC()
	}
	c := Claims{
		Issuer: string(r.Iss), Subject: string(r.Sub), ExpiresAt: unix(r.Exp), IssuedAt: unix(r.Iat),
		NamespaceID: string(r.NamespaceID), NamespacePath: string(r.NamespacePath),
		ProjectID: string(r.ProjectID), ProjectPath: string(r.ProjectPath),
		UserID: string(r.UserID), UserLogin: string(r.UserLogin),
		PipelineID: string(r.PipelineID), PipelineSource: string(r.PipelineSource), JobID: string(r.JobID),
		Ref: string(r.Ref), RefType: string(r.RefType), RefPath: string(r.RefPath),
		RefProtected: r.RefProtected == "true", SHA: string(r.SHA),
		Environment: string(r.Environment), EnvironmentProtected: r.EnvironmentProtected == "true",
		DeploymentTier: string(r.DeploymentTier), EnvironmentAction: string(r.EnvironmentAction),
		RunnerID: string(r.RunnerID), RunnerEnvironment: string(r.RunnerEnvironment),
	}
	var one string
	if json.Unmarshal(r.Aud, &one) == nil {
		c.Audience = []string{one}
	} else {
		_ = json.Unmarshal(r.Aud, &c.Audience) // validated by jwt.Parse already
	}
	return c
}

// idTokenVerifier checks ID tokens against the instance's published keys,
// which it caches: refetched when older than keysMaxAge, or when a token
// names a key id it does not know (at most every keysMinRefresh).
type idTokenVerifier struct {
	audience, issuer, jwksURL string
	hc                        *http.Client
	now                       func() time.Time
	log                       *slog.Logger

	mu      sync.Mutex
	keys    jwk.Set
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
}

func newIDTokenVerifier(audience, issuer, jwksURL string, hc *http.Client, now func() time.Time, log *slog.Logger) *idTokenVerifier {
	return &idTokenVerifier{audience: audience, issuer: issuer, jwksURL: jwksURL, hc: hc, now: now, log: log}
}

// unauthenticated is the error of a token that does not verify.
func unauthenticated(format string, args ...any) error {
	return apperr.New(apperr.KindUnauthenticated, "GitLab ID token: "+format, args...)
}

// VerifyIDToken verifies a GitLab CI/CD ID token (a job's id_tokens value):
// its signature against the instance's JWKS, its issuer, its audience
// (Options.Audience) and its exp, nbf and iat with 30s of leeway. Errors
// are apperr.KindUnauthenticated and say what is wrong (expired, wrong
// audience, wrong issuer, bad signature, unknown key); a key set that
// cannot be fetched is apperr.KindUnavailable.
func (p *Provider) VerifyIDToken(ctx context.Context, raw string) (Claims, error) {
	return p.ids.verify(ctx, raw)
}

func (v *idTokenVerifier) verify(ctx context.Context, raw string) (Claims, error) {
	if v.audience == "" {
		return Claims{}, unauthenticated("verification is not configured (no audience); refusing every token")
	}
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return Claims{}, unauthenticated("missing")
	case len(raw) > maxIDToken:
		return Claims{}, unauthenticated("longer than %d bytes", maxIDToken)
	}
	msg, err := jws.Parse([]byte(raw), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return Claims{}, unauthenticated("malformed (want a compact JWS)")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	alg, _ := hdr.Algorithm()
	if !allowedAlg(alg.String()) {
		return Claims{}, unauthenticated("signature algorithm %q is not accepted", providers.Clip(alg.String(), 16))
	}
	kid, _ := hdr.KeyID()
	if kid == "" {
		return Claims{}, unauthenticated("names no signing key (kid)")
	}
	key, err := v.key(ctx, kid)
	if err != nil {
		return Claims{}, err
	}
	if ka, ok := key.Algorithm(); ok && ka.String() != alg.String() {
		return Claims{}, unauthenticated("signed with %s, but key %q is for %s", alg, providers.Clip(kid, 64), ka)
	}
	_, err = jwt.Parse([]byte(raw),
		jwt.WithKey(alg, key),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithAcceptableSkew(clockSkew),
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	)
	if err != nil {
		return Claims{}, tokenError(err, v)
	}
	var rc rawClaims
	if err := json.Unmarshal(msg.Payload(), &rc); err != nil {
		return Claims{}, unauthenticated("claims are malformed: %s", providers.Clip(err.Error(), 200))
	}
	c := rc.claims()
	if strings.TrimSpace(c.UserLogin) == "" || strings.TrimSpace(c.ProjectPath) == "" {
		return Claims{}, unauthenticated("user_login and project_path claims are required")
	}
	return c, nil
}

// tokenError says why jwt.Parse refused a token.
func tokenError(err error, v *idTokenVerifier) error {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return unauthenticated("expired")
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return unauthenticated("not valid yet (nbf)")
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return unauthenticated("issued in the future (iat)")
	case errors.Is(err, jwt.InvalidIssuerError()):
		return unauthenticated("wrong issuer (want %s)", v.issuer)
	case errors.Is(err, jwt.InvalidAudienceError()):
		return unauthenticated("wrong audience (want %s)", v.audience)
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return unauthenticated("a required claim is missing (exp)")
	case errors.Is(err, jws.VerifyError()), errors.Is(err, jws.VerificationError()):
		return unauthenticated("bad signature")
	case errors.Is(err, jwt.ValidateError()):
		return unauthenticated("claims do not validate")
	}
	return unauthenticated("bad signature or malformed token")
}

// key returns the key with id kid, fetching the key set when it is stale
// or lacks kid (subject to keysMinRefresh).
func (v *idTokenVerifier) key(ctx context.Context, kid string) (jwk.Key, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	fresh := v.keys != nil && now.Sub(v.fetched) < keysMaxAge
	if fresh {
		if k, ok := v.keys.LookupKeyID(kid); ok {
			return k, nil
		}
	}
	if v.keys == nil || !fresh || now.Sub(v.tried) >= keysMinRefresh {
		v.tried = now
		set, err := v.fetch(ctx)
		switch {
		case err == nil:
			v.keys, v.fetched = set, now
		case v.keys == nil:
			return nil, apperr.Wrap(apperr.KindUnavailable, err, "cannot fetch GitLab's ID token signing keys")
		default:
			v.log.WarnContext(ctx, "refreshing the ID token signing keys failed; using the cached ones", "url", v.jwksURL, "error", err.Error())
		}
	}
	if k, ok := v.keys.LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, unauthenticated("unknown signing key %q", providers.Clip(kid, 64))
}

// fetch reads the key set.
func (v *idTokenVerifier) fetch(ctx context.Context) (jwk.Set, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, fmt.Errorf("gitlab: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gitlab: fetch JWKS %s: %w", v.jwksURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("gitlab: read JWKS %s: %w", v.jwksURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gitlab: fetch JWKS %s: status %d", v.jwksURL, resp.StatusCode)
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("gitlab: JWKS %s is larger than %d bytes", v.jwksURL, maxJWKS)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("gitlab: parse JWKS %s: %w", v.jwksURL, err)
	}
	return set, nil
}
