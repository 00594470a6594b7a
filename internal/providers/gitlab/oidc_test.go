package gitlab

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
)

const (
	testIssuer   = "https://gitlab.example.com"
	testAudience = "https://agentgate.example.com"
)

// testNow is the clock of the OIDC tests.
func testNow() time.Time { return time.Date(2024, 5, 15, 10, 0, 0, 0, time.UTC) }

// signer is a locally generated RSA key with a key id.
type signer struct {
	kid  string
	priv jwk.Key
	pub  jwk.Key
}

func newSigner(t testing.TB, kid string) signer {
	t.Helper()
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := priv.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Set(jwk.AlgorithmKey, jwa.RS256()); err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, priv: priv, pub: pub}
}

// gitlabClaims are the claims of a production deploy job's ID token.
func gitlabClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": testAudience, "sub": "project_path:acme/api:ref_type:branch:ref:main",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"namespace_id": "7", "namespace_path": "acme", "project_id": "42", "project_path": "acme/api",
		"user_id": "301", "user_login": "project_42_bot_5f3a9c", "pipeline_id": "1031", "pipeline_source": "api",
		"job_id": "5009", "ref": "main", "ref_type": "branch", "ref_path": "refs/heads/main", "ref_protected": "true",
		"sha": fixtureSHA, "environment": "production", "environment_protected": "true", "deployment_tier": "production",
		"environment_action": "start", "runner_id": 380987, "runner_environment": "self-hosted",
	}
}

// sign makes a token of claims with s's key.
func (s signer) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), s.priv))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeJWKS serves the public keys of signers and counts fetches.
type fakeJWKS struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jwk.Key
	fetches int
}

func newFakeJWKS(t testing.TB, signers ...signer) *fakeJWKS {
	t.Helper()
	f := &fakeJWKS{}
	f.setKeys(signers...)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != jwksPath {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fetches++
		set := jwk.NewSet()
		for _, k := range f.keys {
			_ = set.AddKey(k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeJWKS) setKeys(signers ...signer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = nil
	for _, s := range signers {
		f.keys = append(f.keys, s.pub)
	}
}

func (f *fakeJWKS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches
}

// oidcProvider verifies tokens of testIssuer against f, at *clock.
func oidcProvider(t testing.TB, f *fakeJWKS, clock *time.Time) *Provider {
	t.Helper()
	return newProvider(t, Options{
		BaseURL: testIssuer, Audience: testAudience, JWKSURL: f.URL + jwksPath,
		HTTPClient: f.Client(), Now: func() time.Time { return *clock },
	})
}

func TestVerifyIDToken(t *testing.T) {
	key, other := newSigner(t, "key-1"), newSigner(t, "key-2")
	now := testNow()
	with := func(k string, v any) map[string]any {
		c := gitlabClaims(now)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	valid := key.sign(t, gitlabClaims(now))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	forged := parts[0] + "." + strings.Split(key.sign(t, with("user_login", "root")), ".")[1] + "." + parts[2]
	tests := []struct {
		name     string
		token    string
		audience string
		wantErr  string
	}{
		{name: "valid", token: valid},
		{name: "expired", token: key.sign(t, with("exp", now.Add(-time.Minute).Unix())), wantErr: "expired"},
		{name: "within the clock skew", token: key.sign(t, with("exp", now.Add(-10*time.Second).Unix()))},
		{name: "not valid yet", token: key.sign(t, with("nbf", now.Add(time.Hour).Unix())), wantErr: "not valid yet"},
		{name: "wrong audience", token: key.sign(t, with("aud", "https://other.example.com")), wantErr: "wrong audience"},
		{name: "wrong issuer", token: key.sign(t, with("iss", "https://gitlab.com")), wantErr: "wrong issuer"},
		{name: "no exp", token: key.sign(t, with("exp", nil)), wantErr: "exp"},
		{name: "unknown key id", token: other.sign(t, gitlabClaims(now)), wantErr: `unknown signing key "key-2"`},
		{name: "tampered signature", token: tampered, wantErr: "bad signature"},
		{name: "claims swapped under a valid signature", token: forged, wantErr: "bad signature"},
		{name: "no user_login", token: key.sign(t, with("user_login", nil)), wantErr: "user_login"},
		{name: "empty", token: " ", wantErr: "missing"},
		{name: "not a JWS", token: "not.a.token", wantErr: "malformed"},
		{name: "unsigned", token: parts[0][:0] + "eyJhbGciOiJub25lIn0." + parts[1] + ".", wantErr: "not accepted"},
		{name: "no audience configured", token: valid, audience: "-", wantErr: "not configured"},
	}
	f := newFakeJWKS(t, key)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := now
			p := oidcProvider(t, f, &clock)
			if tc.audience == "-" {
				p.ids.audience = ""
			}
			c, err := p.VerifyIDToken(context.Background(), tc.token)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("VerifyIDToken: %v", err)
				}
				if c.UserLogin != "project_42_bot_5f3a9c" || c.ProjectID != "42" || c.RunnerID != "380987" || !c.RefProtected || !c.EnvironmentProtected {
					t.Fatalf("claims = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			if k := apperr.KindOf(err); k != apperr.KindUnauthenticated {
				t.Fatalf("kind = %s", k)
			}
		})
	}
}

func TestVerifyIDTokenKeyRotation(t *testing.T) {
	key, next := newSigner(t, "key-1"), newSigner(t, "key-2")
	f := newFakeJWKS(t, key)
	clock := testNow()
	p := oidcProvider(t, f, &clock)
	ctx := context.Background()
	if _, err := p.VerifyIDToken(ctx, key.sign(t, gitlabClaims(clock))); err != nil {
		t.Fatal(err)
	}
	if _, err := p.VerifyIDToken(ctx, key.sign(t, gitlabClaims(clock))); err != nil || f.count() != 1 {
		t.Fatalf("second token: %v after %d fetches, want the cached keys", err, f.count())
	}
	// An unknown kid right after a fetch does not refetch (rate limit).
	if _, err := p.VerifyIDToken(ctx, next.sign(t, gitlabClaims(clock))); err == nil || f.count() != 1 {
		t.Fatalf("unknown kid: %v after %d fetches", err, f.count())
	}
	// The instance rotates its key; after keysMinRefresh the unknown kid refetches.
	f.setKeys(key, next)
	clock = clock.Add(keysMinRefresh)
	if _, err := p.VerifyIDToken(ctx, next.sign(t, gitlabClaims(clock))); err != nil || f.count() != 2 {
		t.Fatalf("rotated key: %v after %d fetches", err, f.count())
	}
	// A failing JWKS endpoint keeps the cached keys in use.
	f.Close()
	clock = clock.Add(2 * keysMaxAge)
	if _, err := p.VerifyIDToken(ctx, next.sign(t, gitlabClaims(clock))); err != nil {
		t.Fatalf("with the JWKS endpoint down: %v", err)
	}
}

func TestVerifyIDTokenJWKSUnavailable(t *testing.T) {
	key := newSigner(t, "key-1")
	f := newFakeJWKS(t, key)
	f.Close()
	clock := testNow()
	p := oidcProvider(t, f, &clock)
	_, err := p.VerifyIDToken(context.Background(), key.sign(t, gitlabClaims(clock)))
	if apperr.KindOf(err) != apperr.KindUnavailable {
		t.Fatalf("err = %v (kind %s)", err, apperr.KindOf(err))
	}
}

func FuzzVerifyIDToken(f *testing.F) {
	key := newSigner(f, "key-1")
	srv := newFakeJWKS(f, key)
	clock := testNow()
	p := oidcProvider(f, srv, &clock)
	valid := key.sign(f, gitlabClaims(clock))
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add(strings.Replace(valid, ".", "..", 1))
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := p.VerifyIDToken(context.Background(), raw)
		if err != nil {
			if k := apperr.KindOf(err); k != apperr.KindUnauthenticated {
				t.Fatalf("error of kind %s: %v", k, err)
			}
			return
		}
		if ev := GateEvent(c); ev.Validate() != nil {
			t.Fatalf("gate event of a verified token does not validate: %+v", ev)
		}
	})
}

func TestGateEvent(t *testing.T) {
	now := testNow()
	key := newSigner(t, "key-1")
	f := newFakeJWKS(t, key)
	p := oidcProvider(t, f, &now)
	c, err := p.VerifyIDToken(context.Background(), key.sign(t, gitlabClaims(now)))
	if err != nil {
		t.Fatal(err)
	}
	build := c
	build.Environment, build.RefPath, build.Ref, build.RefType = "", "", "v1.2", "tag"
	tests := []struct {
		name   string
		claims Claims
		want   event.Event
	}{
		{name: "deploy job", claims: c, want: event.Event{
			Provider: "gitlab", Kind: event.KindDeploy, Action: "gate", Phase: event.PhaseStart, Repo: "acme/api",
			Ref: "refs/heads/main", SHA: fixtureSHA, Environment: "production", Principal: "gitlab:project_42_bot_5f3a9c", Machine: true,
			Handles: map[string]string{"object_kind": "id_token", "project_id": "42", "pipeline_id": "1031", "job_id": "5009", "environment": "production"},
			Labels: map[string]string{"deployment_tier": "production", "ref_protected": "true", "environment_protected": "true", "environment_action": "start",
				"pipeline_source": "api", "namespace_path": "acme", "runner_id": "380987", "runner_environment": "self-hosted"},
		}},
		{name: "build job on a tag", claims: build, want: event.Event{
			Provider: "gitlab", Kind: event.KindBuild, Action: "gate", Phase: event.PhaseStart, Repo: "acme/api",
			Ref: "refs/tags/v1.2", SHA: fixtureSHA, Principal: "gitlab:project_42_bot_5f3a9c", Machine: true,
			Handles: map[string]string{"object_kind": "id_token", "project_id": "42", "pipeline_id": "1031", "job_id": "5009"},
			Labels: map[string]string{"deployment_tier": "production", "ref_protected": "true",
				"pipeline_source": "api", "namespace_path": "acme", "runner_id": "380987", "runner_environment": "self-hosted"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := GateEvent(tc.claims)
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if string(gj) != string(wj) {
				t.Fatalf("GateEvent:\n got %s\nwant %s", gj, wj)
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			// Gate events are answered by the endpoint, never enforced.
			if isPipelineStart(got) || isBlockedDeployment(got) {
				t.Fatal("a gate event would be enforced through the API")
			}
		})
	}
}
