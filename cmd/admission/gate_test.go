package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/agentgate/agentgate/policies"
)

const gateAudience = "https://agentgate.example.com"

// idTokens signs GitLab-shaped CI job ID tokens and serves their JWKS.
type idTokens struct {
	priv jwk.Key
	srv  *httptest.Server
	job  int
}

func newIDTokens(t *testing.T) *idTokens {
	t.Helper()
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = priv.Set(jwk.KeyIDKey, "k1")
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.AlgorithmKey, jwa.RS256())
	it := &idTokens{priv: priv}
	it.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(it.srv.Close)
	return it
}

// token is a fresh job's ID token for user deploying to environment.
func (it *idTokens) token(t *testing.T, user, environment string) string {
	t.Helper()
	it.job++
	now := time.Now()
	tok := jwt.New()
	for k, v := range map[string]any{
		"iss": it.srv.URL, "aud": gateAudience, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"sub": "project_path:acme/api:ref_type:branch:ref:main", "project_id": "42", "project_path": "acme/api",
		"namespace_path": "acme", "user_login": user, "user_id": "7", "pipeline_id": "1031", "pipeline_source": "push",
		"job_id": fmt.Sprint(5000 + it.job), "ref": "main", "ref_type": "branch", "ref_protected": "true",
		"environment": environment, "environment_protected": "true", "deployment_tier": "production",
	} {
		_ = tok.Set(k, v)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), it.priv))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shortTTLPolicies is the built-in set with a one-second approval TTL.
func shortTTLPolicies(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policies.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(policies.FS(), p)
		if p == "data/settings.yaml" {
			b = []byte(strings.Replace(string(b), "ttl: 4h", "ttl: 1s", 1))
		}
		_ = os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAdmissionGate runs `admission gate` against a real server: allowed,
// refused, held then approved by a person, held then expired.
func TestAdmissionGate(t *testing.T) {
	it := newIDTokens(t)
	env := map[string]string{
		"ADMISSION_DATA_DIR": t.TempDir(), "ADMISSION_AUTH_BOOTSTRAP_TOKEN": e2eAdmin, "ADMISSION_POLICY_DIR": shortTTLPolicies(t),
		"ADMISSION_GITLAB_BASE_URL": it.srv.URL, "ADMISSION_GITLAB_OIDC_AUDIENCE": gateAudience,
	}
	a := startApp(t, env)
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	e := &e2e{t: t, h: a.Server.Handler()}
	e.call(http.MethodPost, "/api/v1/agents", map[string]any{"name": "deploy-bot", "type": "deployment", "owner": "platform", "tier": "established",
		"capabilities": []string{"deploy"}, "environments": []string{"staging", "production"}, "principals": []string{"gitlab:project_42_bot_deploy"}}, http.StatusCreated, nil)

	run := func(token string, during func()) (string, error) {
		if during != nil {
			go during()
		}
		return runGate(t, srv.URL, token)
	}
	tests := []struct {
		name     string
		token    string
		during   func()
		wantExit int
		wantOut  string
	}{
		{name: "agent to staging is allowed", token: it.token(t, "project_42_bot_deploy", "staging"), wantOut: "agentgate: allowed"},
		{name: "unregistered bot is refused", token: it.token(t, "project_42_bot_ghost", "production"), wantExit: exitDenied, wantOut: "unregistered_agent"},
		{name: "held, then approved by a person", token: it.token(t, "project_42_bot_deploy", "production"), during: func() { approveFirstPending(t, e) },
			wantOut: "agentgate: allowed: approved by bootstrap-admin"},
		{name: "held, then expired", token: it.token(t, "project_42_bot_deploy", "production"), during: func() {
			time.Sleep(1500 * time.Millisecond)
			_, _ = a.Approvals.ExpireDue(context.Background())
		}, wantExit: exitDenied, wantOut: "expired by agentgate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.token, tc.during)
			var ec exitCoder
			switch {
			case tc.wantExit == 0 && err != nil:
				t.Fatalf("err = %v\n%s", err, out)
			case tc.wantExit != 0 && (!errors.As(err, &ec) || ec.ExitCode() != tc.wantExit):
				t.Fatalf("err = %v, want exit %d\n%s", err, tc.wantExit, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
	if out, err := runGate(t, srv.URL, "not-a-token"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a forged token: %v\n%s", err, out)
	}
}

func runGate(t *testing.T, server, token string) (string, error) {
	t.Helper()
	out, _, err := runCLI(t, map[string]string{"AGENTGATE_ID_TOKEN": token}, "", "gate", "--server", server, "--poll", "100ms", "--wait", "20s")
	return out, err
}

// approveFirstPending approves the first pending approval once one exists.
// It runs on its own goroutine, so it reports with Errorf, never Fatal.
func approveFirstPending(t *testing.T, e *e2e) {
	do := func(method, path, body string) (int, []byte) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e2eAdmin)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	for i := 0; i < 200; i++ {
		var list struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		_, body := do(http.MethodGet, "/api/v1/approvals?state=pending", "")
		_ = json.Unmarshal(body, &list)
		if len(list.Items) > 0 {
			if code, body := do(http.MethodPost, "/api/v1/approvals/"+list.Items[0].ID+"/approve", `{"reason":"ok"}`); code != http.StatusOK {
				t.Errorf("approve = %d: %s", code, body)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("no approval became pending")
}

// TestAdmissionGateRidesOutBlips: a 503 or a dropped connection while a job
// waits is asked again, not a failed deploy.
func TestAdmissionGateRidesOutBlips(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch calls {
		case 1:
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"pending","message":"waiting","poll":"/gitlab/gate/ap-1"}`))
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"store unreachable"}}`))
		default:
			if r.Method != http.MethodGet || r.URL.Path != "/gitlab/gate/ap-1" {
				t.Errorf("asked %s %s", r.Method, r.URL.Path)
			}
			_, _ = w.Write([]byte(`{"status":"allowed","message":"approved by alice"}`))
		}
	}))
	t.Cleanup(srv.Close)
	out, err := runGate(t, srv.URL, "token")
	if err != nil || !strings.Contains(out, "no answer (status 503): store unreachable") || !strings.Contains(out, "allowed: approved by alice") {
		t.Fatalf("err = %v\n%s", err, out)
	}
}
