package github

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
)

func TestErrorClassification(t *testing.T) {
	now := time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC)
	reset := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	deny := providers.Decision{DecisionID: "dec-1", Effective: "deny", Reasons: []string{"r: no"}}
	tests := []struct {
		name      string
		reply     reply
		closed    bool
		permanent bool
		wait      time.Duration // 0: retryable on the caller's own back-off
	}{
		{name: "500 is retryable", reply: reply{status: 500, body: `{"message":"Server Error"}`}},
		{name: "503 honours Retry-After", reply: reply{status: 503, headers: map[string]string{"Retry-After": "7"}}, wait: 7 * time.Second},
		{name: "429 honours Retry-After", reply: reply{status: 429, headers: map[string]string{"Retry-After": "30"}}, wait: 30 * time.Second},
		{name: "429 without headers waits a minute", reply: reply{status: 429, body: `{"message":"Too Many Requests"}`}, wait: time.Minute},
		{name: "429 with an exhausted quota waits for the reset", reply: reply{status: 429,
			headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(90 * time.Second)}}, wait: 90 * time.Second},
		{name: "403 primary rate limit waits for the reset", reply: reply{status: 403,
			headers: map[string]string{"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(2 * time.Minute)},
			body:    `{"message":"API rate limit exceeded"}`}, wait: 2 * time.Minute},
		{name: "403 secondary rate limit honours Retry-After", reply: reply{status: 403, headers: map[string]string{"Retry-After": "45"},
			body: `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`},
			wait: 45 * time.Second},
		{name: "403 secondary rate limit without headers waits a minute", reply: reply{status: 403,
			body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`}, wait: time.Minute},
		{name: "403 without a rate limit is permanent", reply: reply{status: 403, body: `{"message":"Resource not accessible by integration"}`}, permanent: true},
		{name: "401 is permanent", reply: reply{status: 401, body: `{"message":"Bad credentials"}`}, permanent: true},
		{name: "404 is permanent", reply: reply{status: 404, body: `{"message":"Not Found"}`}, permanent: true},
		{name: "422 is permanent", reply: reply{status: 422, body: `{"message":"Validation Failed"}`}, permanent: true},
		{name: "a network error is retryable", closed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t, map[string]reply{"POST " + cancelPath: tc.reply})
			p := newProvider(t, tokenOptions(f))
			p.api.now = func() time.Time { return now }
			ev := fixtureEvent(t, "workflow_run.requested.bot-trailers", f.URL)
			if tc.closed {
				f.Close()
			}
			err := p.Enforce(context.Background(), ev, deny)
			if err == nil {
				t.Fatal("Enforce succeeded")
			}
			var pe *providers.PermanentError
			if errors.As(err, &pe) != tc.permanent {
				t.Fatalf("err = %v (%T), want permanent %v", err, err, tc.permanent)
			}
			wait, ok := RetryAfter(err)
			if ok != (tc.wait > 0) || wait != tc.wait {
				t.Fatalf("RetryAfter = %v, %v; want %v", wait, ok, tc.wait)
			}
			var rd providers.RetryDelayer
			if errors.As(err, &rd) == tc.permanent || (rd != nil && rd.RetryDelay() != tc.wait) {
				t.Fatalf("RetryDelayer = %v, want a delay of %v unless permanent", rd, tc.wait)
			}
			if !strings.Contains(err.Error(), "cancel workflow run 289782451 of acme/api") {
				t.Fatalf("err = %v, want it to name the call", err)
			}
			if strings.Contains(err.Error(), "ghp_test_token") {
				t.Fatal("error reveals the token")
			}
		})
	}
}

func TestRetryAfterOfOtherErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{name: "nil", err: nil},
		{name: "plain", err: errors.New("connection reset")},
		{name: "permanent", err: &providers.PermanentError{Err: errors.New("404")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if wait, ok := RetryAfter(tc.err); ok || wait != 0 {
				t.Fatalf("RetryAfter = %v, %v", wait, ok)
			}
		})
	}
}

// checkJWT verifies an App JWT (RS256) from an Authorization header.
func checkJWT(t *testing.T, auth string, key *rsa.PublicKey, appID int64) {
	t.Helper()
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	parts := strings.Split(tok, ".")
	if !ok || len(parts) != 3 {
		t.Fatalf("Authorization %q is not a bearer JWT", auth)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("JWT signature: %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Iss != strconv.FormatInt(appID, 10) {
		t.Fatalf("claims %s, want iss %d", raw, appID)
	}
}

func TestAppInstallationAuth(t *testing.T) {
	key, keyPEM := rsaKeyPEM(t)
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	f := newFakeGitHub(t, map[string]reply{
		"POST /app/installations/4242/access_tokens": {status: 201, body: `{"token":"ghs_inst_4242","expires_at":"` + expires + `"}`},
		"POST /app/installations/4343/access_tokens": {status: 201, body: `{"token":"ghs_inst_4343","expires_at":"` + expires + `"}`},
	})
	p := newProvider(t, Options{
		WebhookSecret: secret.New(testSecret, "test"),
		AppID:         99,
		PrivateKey:    secret.New(keyPEM, "test"),
		BaseURL:       f.URL + "/",
		HTTPClient:    f.Client(),
	})
	ctx := context.Background()
	deny := providers.Decision{DecisionID: "dec-1", Effective: "deny", Reasons: []string{"r: no"}}
	ev := fixtureEvent(t, "workflow_run.requested.bot-trailers", f.URL)
	for range 2 {
		if err := p.Enforce(ctx, ev, deny); err != nil {
			t.Fatalf("Enforce: %v", err)
		}
	}
	other := fixtureEvent(t, "workflow_run.requested.bot-trailers", f.URL)
	other.Handles[handleInstallationID] = "4343"
	if err := p.Enforce(ctx, other, deny); err != nil {
		t.Fatalf("Enforce: %v", err)
	}

	calls := f.recorded(true)
	var paths, auths []string
	for _, c := range calls {
		paths = append(paths, c.Method+" "+c.Path)
		if strings.HasPrefix(c.Path, "/app/") {
			checkJWT(t, c.Auth, &key.PublicKey, 99)
			auths = append(auths, "jwt")
			continue
		}
		auths = append(auths, c.Auth)
	}
	wantPaths := []string{
		"POST /app/installations/4242/access_tokens", "POST " + cancelPath, "POST " + checksPath,
		"POST " + cancelPath, "POST " + checksPath,
		"POST /app/installations/4343/access_tokens", "POST " + cancelPath, "POST " + checksPath,
	}
	wantAuths := []string{"jwt", "token ghs_inst_4242", "token ghs_inst_4242", "token ghs_inst_4242", "token ghs_inst_4242",
		"jwt", "token ghs_inst_4343", "token ghs_inst_4343"}
	if strings.Join(paths, "\n") != strings.Join(wantPaths, "\n") || strings.Join(auths, ",") != strings.Join(wantAuths, ",") {
		t.Fatalf("calls:\n%s\nauth: %v", strings.Join(paths, "\n"), auths)
	}
}

func TestAppInstallationErrors(t *testing.T) {
	_, keyPEM := rsaKeyPEM(t)
	deny := providers.Decision{Effective: "deny"}
	tests := []struct {
		name         string
		installation string
		tokenReply   reply
		permanent    bool
		wantErr      string
	}{
		{name: "no installation id", installation: "", permanent: true, wantErr: "no installation id"},
		{name: "token endpoint fails", installation: "4242", tokenReply: reply{status: 502, body: "bad gateway"}, wantErr: "could not refresh"},
		{name: "app not installed", installation: "4242", tokenReply: reply{status: 404, body: `{"message":"Not Found"}`}, permanent: true, wantErr: "could not refresh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t, map[string]reply{"POST /app/installations/4242/access_tokens": tc.tokenReply})
			p := newProvider(t, Options{AppID: 99, PrivateKey: secret.New(keyPEM, "test"), BaseURL: f.URL + "/", HTTPClient: f.Client()})
			ev := fixtureEvent(t, "workflow_run.requested.bot-trailers", f.URL)
			if tc.installation == "" {
				delete(ev.Handles, handleInstallationID)
			}
			err := p.Enforce(context.Background(), ev, deny)
			var pe *providers.PermanentError
			if err == nil || errors.As(err, &pe) != tc.permanent || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want permanent %v mentioning %q", err, tc.permanent, tc.wantErr)
			}
			if n := len(f.recorded(false)); n != 0 {
				t.Fatalf("%d API calls made without a token", n)
			}
		})
	}
}

func TestNoCredentials(t *testing.T) {
	p := newProvider(t, Options{})
	ev := fixtureEvent(t, "workflow_run.requested.bot-trailers", "")
	err := p.Enforce(context.Background(), ev, providers.Decision{Effective: "deny"})
	var pe *providers.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "no API credentials") {
		t.Fatalf("err = %v", err)
	}
	if err := p.Enforce(context.Background(), ev, providers.Decision{Effective: "allow"}); !errors.Is(err, providers.ErrNoAction) {
		t.Fatalf("nothing to enforce, but %v", err)
	}
}
