package gitlab

import (
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/secret"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "nothing configured", opts: Options{}},
		{name: "self-managed with a token", opts: Options{BaseURL: "https://gitlab.example.com/", APIToken: secret.New("glpat-x", "test")}},
		{name: "relative base URL", opts: Options{BaseURL: "gitlab.example.com"}, wantErr: "not an absolute"},
		{name: "credentials in the base URL", opts: Options{BaseURL: "https://user:pw@gitlab.example.com"}, wantErr: "not an absolute"},
		{name: "bad JWKS URL", opts: Options{JWKSURL: "ftp://x"}, wantErr: "JWKS URL"},
		{name: "negative rate", opts: Options{RunnerRates: map[string]float64{"gpu": -1}}, wantErr: "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil || p.Name() != "gitlab" {
					t.Fatalf("New = %v, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	p := newProvider(t, Options{BaseURL: "https://gitlab.example.com/"})
	if p.ids.issuer != "https://gitlab.example.com" || p.ids.jwksURL != "https://gitlab.example.com/oauth/discovery/keys" {
		t.Fatalf("issuer %q, JWKS %q", p.ids.issuer, p.ids.jwksURL)
	}
	p = newProvider(t, Options{})
	if p.ids.issuer != DefaultBaseURL {
		t.Fatalf("issuer %q", p.ids.issuer)
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		sent       string
		ok         bool
	}{
		{name: "good token", configured: testToken, sent: testToken, ok: true},
		{name: "wrong token", configured: testToken, sent: "guess"},
		{name: "token with a prefix of the right one", configured: testToken, sent: testToken[:5]},
		{name: "missing token", configured: testToken},
		{name: "none configured fails closed", sent: testToken},
		{name: "none configured and none sent", sent: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, Options{WebhookToken: secret.New(tc.configured, "test")})
			h := headers(hookPipeline, "u")
			h.Del(HeaderToken)
			if tc.sent != "" {
				h.Set(HeaderToken, tc.sent)
			}
			err := p.Verify(h, []byte(`{}`))
			if tc.ok != (err == nil) {
				t.Fatalf("Verify = %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				if apperr.KindOf(err) != apperr.KindUnauthenticated {
					t.Fatalf("kind = %s", apperr.KindOf(err))
				}
				if strings.Contains(err.Error(), testToken) {
					t.Fatal("error reveals the token")
				}
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(testToken)
	f.Add("")
	f.Add(testToken + " ")
	p := newProvider(f, Options{WebhookToken: secret.New(testToken, "test")})
	f.Fuzz(func(t *testing.T, token string) {
		h := headers(hookPipeline, "u")
		h.Set(HeaderToken, token)
		err := p.Verify(h, nil)
		if (h.Get(HeaderToken) == testToken) != (err == nil) {
			t.Fatalf("Verify(%q) = %v", token, err)
		}
	})
}
