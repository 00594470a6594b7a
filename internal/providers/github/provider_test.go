package github

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
)

// rsaKeyPEM generates an RSA key and its PKCS#1 PEM encoding.
func rsaKeyPEM(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

func TestNew(t *testing.T) {
	_, keyPEM := rsaKeyPEM(t)
	secret := func(v string) secret.Secret { return secret.New(v, "test") }
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "nothing configured", opts: Options{}},
		{name: "token", opts: Options{Token: secret("ghp_x")}},
		{name: "app", opts: Options{AppID: 7, PrivateKey: secret(keyPEM)}},
		{name: "enterprise server base URL", opts: Options{BaseURL: "https://ghe.example.com/api/v3"}},
		{name: "token and app", opts: Options{Token: secret("ghp_x"), AppID: 7, PrivateKey: secret(keyPEM)}, wantErr: "not both"},
		{name: "app without key", opts: Options{AppID: 7}, wantErr: "needs both"},
		{name: "key without app", opts: Options{PrivateKey: secret(keyPEM)}, wantErr: "needs both"},
		{name: "bad key", opts: Options{AppID: 7, PrivateKey: secret("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END RSA PRIVATE KEY-----")}, wantErr: "private key"},
		{name: "relative base URL", opts: Options{BaseURL: "api.github.com"}, wantErr: "not an absolute"},
		{name: "negative rate", opts: Options{RunnerRates: map[string]float64{"gpu": -1}}, wantErr: "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil || p.Name() != "github" {
					t.Fatalf("New = %v, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "ghp_x") {
				t.Fatalf("error reveals a secret: %v", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"action":"requested"}`)
	good := providers.SignHMACSHA256([]byte(testSecret), body)
	tests := []struct {
		name   string
		secret string
		sig    string
		body   []byte
		ok     bool
	}{
		{name: "valid signature", secret: testSecret, sig: good, body: body, ok: true},
		{name: "upper-case hex", secret: testSecret, sig: "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), body: body, ok: true},
		{name: "no secret configured fails closed", sig: good, body: body},
		{name: "missing signature", secret: testSecret, body: body},
		{name: "sha1 signature only", secret: testSecret, sig: "sha1=0123456789abcdef0123456789abcdef01234567", body: body},
		{name: "truncated", secret: testSecret, sig: good[:40], body: body},
		{name: "body changed", secret: testSecret, sig: good, body: []byte(`{"action":"completed"}`)},
		{name: "other key", secret: testSecret, sig: providers.SignHMACSHA256([]byte("guess"), body), body: body},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, Options{WebhookSecret: secret.New(tc.secret, "test")})
			h := headers("workflow_run", "d")
			if tc.sig != "" {
				h.Set(HeaderSignature, tc.sig)
			}
			err := p.Verify(h, tc.body)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify = %v, want ok %v", err, tc.ok)
			}
			if err != nil {
				if apperr.KindOf(err) != apperr.KindUnauthenticated {
					t.Fatalf("kind = %s", apperr.KindOf(err))
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Fatal("error reveals the secret")
				}
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	f.Add(providers.SignHMACSHA256([]byte(testSecret), body), body)
	f.Add("sha256=", []byte{})
	f.Add("sha1=abc", body)
	p := newProvider(f, Options{WebhookSecret: secret.New(testSecret, "test")})
	f.Fuzz(func(t *testing.T, sig string, b []byte) {
		h := headers("ping", "d")
		h.Set(HeaderSignature, sig)
		err := p.Verify(h, b)
		want := providers.SignHMACSHA256([]byte(testSecret), b)
		valid := strings.HasPrefix(sig, "sha256=") && strings.EqualFold(sig, want)
		if valid != (err == nil) {
			t.Fatalf("Verify(%q) = %v; the valid signature is %q", sig, err, want)
		}
		if err != nil && apperr.KindOf(err) != apperr.KindUnauthenticated {
			t.Fatalf("error of kind %s", apperr.KindOf(err))
		}
	})
}
