package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Driver != "sqlite" || cfg.Store.SQLite.Path != filepath.Join("data", "agentgate.db") || cfg.Store.SQLite.BusyTimeout != 10*time.Second {
		t.Fatalf("store = %+v", cfg.Store)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Policy.Dir != "" || cfg.Failure.Production != FailClosed {
		t.Fatalf("defaults = %+v", cfg)
	}
}

func TestLoad(t *testing.T) {
	secretFile := writeFile(t, "generic.secret", "from-a-file-0123456789\n")
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "file values",
			yaml: "server:\n  listen: 0.0.0.0:9000\n  max_body_bytes: 2048\nstore:\n  driver: postgres\n  postgres:\n    dsn: postgres://u:pw@db/agentgate\nauth:\n  bootstrap_token: aaaaaaaaaaaaaaaaaaaa\n",
			check: func(t *testing.T, c Config) {
				if c.Server.Listen != "0.0.0.0:9000" || c.Server.MaxBodyBytes != 2048 || c.Store.Driver != "postgres" {
					t.Fatalf("%+v", c)
				}
				if c.Store.Postgres.DSN.Reveal() != "postgres://u:pw@db/agentgate" {
					t.Fatal("dsn not read")
				}
			},
		},
		{
			name: "env overrides file",
			yaml: "server:\n  listen: 0.0.0.0:9000\n",
			env: map[string]string{"ADMISSION_SERVER_LISTEN": "127.0.0.1:7000", "ADMISSION_SERVER_READ_TIMEOUT": "3s", "ADMISSION_FAILURE_PRODUCTION_ENVIRONMENTS": "prod, live-*",
				"ADMISSION_STORE_SQLITE_BUSY_TIMEOUT": "2s"},
			check: func(t *testing.T, c Config) {
				if c.Server.Listen != "127.0.0.1:7000" || c.Server.ReadTimeout != 3*time.Second || c.Store.SQLite.BusyTimeout != 2*time.Second {
					t.Fatalf("%+v", c.Server)
				}
				if fmt.Sprint(c.Failure.ProductionEnvironments) != "[prod live-*]" {
					t.Fatalf("%v", c.Failure.ProductionEnvironments)
				}
			},
		},
		{
			name: "secret from file reference",
			yaml: fmt.Sprintf("webhooks:\n  generic:\n    secret: {file: %s}\n", secretFile),
			check: func(t *testing.T, c Config) {
				if c.Webhooks.Generic.Secret.Reveal() != "from-a-file-0123456789" {
					t.Fatalf("secret = %q", c.Webhooks.Generic.Secret.Reveal())
				}
			},
		},
		{
			name: "secret from env reference",
			yaml: "webhooks:\n  generic:\n    secret: {env: MY_SECRET}\n",
			env:  map[string]string{"MY_SECRET": "from-env"},
			check: func(t *testing.T, c Config) {
				if c.Webhooks.Generic.Secret.Reveal() != "from-env" {
					t.Fatal("env secret not read")
				}
			},
		},
		{
			name: "secret override from env file",
			env:  map[string]string{"ADMISSION_WEBHOOKS_GENERIC_SECRET_FILE": secretFile},
			check: func(t *testing.T, c Config) {
				if c.Webhooks.Generic.Secret.Reveal() != "from-a-file-0123456789" {
					t.Fatal("_FILE override not read")
				}
			},
		},
		{
			name: "token secret from env reference",
			yaml: "auth:\n  tokens:\n  - name: sre\n    role: operator\n    token: {env: SRE_TOKEN}\n",
			env:  map[string]string{"SRE_TOKEN": "sre-token-0123456789"},
			check: func(t *testing.T, c Config) {
				if c.Auth.Tokens[0].Token.Reveal() != "sre-token-0123456789" {
					t.Fatal("token env reference not resolved")
				}
			},
		},
		{
			name: "github app",
			yaml: "webhooks:\n  github:\n    secret: hook-secret\ngithub:\n  app_id: 12345\n  private_key: {env: GH_KEY}\n  runner_rates:\n    ubuntu-latest: 0.008\n    default: 0.008\n",
			env:  map[string]string{"GH_KEY": "-----BEGIN RSA PRIVATE KEY-----"},
			check: func(t *testing.T, c Config) {
				if c.GitHub.AppID != 12345 || !c.GitHub.PrivateKey.IsSet() || c.GitHub.RunnerRates["ubuntu-latest"] != 0.008 || c.Webhooks.GitHub.Secret.Reveal() != "hook-secret" {
					t.Fatalf("%+v", c.GitHub)
				}
			},
		},
		{name: "connection bound", env: map[string]string{"ADMISSION_SERVER_MAX_CONNECTIONS": "0"},
			check: func(t *testing.T, c Config) {
				if c.Server.MaxConnections != 0 || Default().Server.MaxConnections != 2048 {
					t.Fatalf("max_connections %d, default %d", c.Server.MaxConnections, Default().Server.MaxConnections)
				}
			}},
		{name: "idle timeout", env: map[string]string{"ADMISSION_SERVER_IDLE_TIMEOUT": "15s"},
			check: func(t *testing.T, c Config) {
				if c.Server.IdleTimeout != 15*time.Second || Default().Server.IdleTimeout != 2*time.Minute {
					t.Fatalf("idle_timeout %s, default %s", c.Server.IdleTimeout, Default().Server.IdleTimeout)
				}
			}},
		{name: "health listener", env: map[string]string{"ADMISSION_SERVER_HEALTH_LISTEN": "0.0.0.0:8081"},
			check: func(t *testing.T, c Config) {
				if c.Server.HealthListen != "0.0.0.0:8081" || Default().Server.HealthListen != "" {
					t.Fatalf("health_listen %q, default %q", c.Server.HealthListen, Default().Server.HealthListen)
				}
			}},
		{name: "debug listener on loopback", env: map[string]string{"ADMISSION_SERVER_DEBUG_LISTEN": "127.0.0.1:6060"},
			check: func(t *testing.T, c Config) {
				if c.Server.DebugListen != "127.0.0.1:6060" {
					t.Fatalf("debug_listen %q", c.Server.DebugListen)
				}
			}},
		{name: "debug listener on IPv6 loopback", env: map[string]string{"ADMISSION_SERVER_DEBUG_LISTEN": "[::1]:6060"},
			check: func(t *testing.T, c Config) {
				if c.Server.DebugListen != "[::1]:6060" {
					t.Fatalf("debug_listen %q", c.Server.DebugListen)
				}
			}},
		{name: "debug listener on localhost", env: map[string]string{"ADMISSION_SERVER_DEBUG_LISTEN": "localhost:6060"},
			check: func(t *testing.T, c Config) {
				if c.Server.DebugListen != "localhost:6060" {
					t.Fatalf("debug_listen %q", c.Server.DebugListen)
				}
			}},
		{name: "debug listener on every interface", env: map[string]string{"ADMISSION_SERVER_DEBUG_LISTEN": ":6060"}, wantErr: "server.debug_listen: \":6060\" must be a loopback address"},
		{name: "debug listener on a pod address", env: map[string]string{"ADMISSION_SERVER_DEBUG_LISTEN": "10.0.0.7:6060"}, wantErr: "must be a loopback address"},
		{name: "debug listener without a port", env: map[string]string{"ADMISSION_SERVER_DEBUG_LISTEN": "127.0.0.1"}, wantErr: "is not host:port"},
		{name: "short console session key", env: map[string]string{"ADMISSION_CONSOLE_SESSION_KEY": "too-short"}, wantErr: "console.session_key: must be at least 32 characters"},
		{name: "zero console session", env: map[string]string{"ADMISSION_CONSOLE_SESSION_TTL": "0s"}, wantErr: "console.session_ttl"},
		{name: "console off", env: map[string]string{"ADMISSION_CONSOLE_ENABLED": "false"},
			check: func(t *testing.T, c Config) {
				if c.Console.Enabled {
					t.Fatal("console.enabled stayed true")
				}
			}},
		{
			name: "console single sign-on",
			yaml: "console:\n  oidc:\n    issuer: https://idp.example.com\n    client_id: agentgate\n    client_secret: {env: OIDC_SECRET}\n    redirect_url: https://agentgate.example.com/ui/oidc/callback\n    roles: {platform-admins: admin, \"*\": viewer}\n",
			env:  map[string]string{"OIDC_SECRET": "s3cret"},
			check: func(t *testing.T, c Config) {
				o := c.Console.OIDC
				if o.ClientSecret.Reveal() != "s3cret" || o.Roles["platform-admins"] != "admin" || o.Roles["*"] != "viewer" {
					t.Fatalf("oidc %+v", o)
				}
				if strings.Contains(fmt.Sprintf("%v %+v", o, o), "s3cret") {
					t.Fatal("the client secret shows when the config is printed")
				}
			}},
		{name: "console single sign-on roles from the environment", env: map[string]string{"ADMISSION_CONSOLE_OIDC_ISSUER": "http://127.0.0.1:5556",
			"ADMISSION_CONSOLE_OIDC_CLIENT_ID": "agentgate", "ADMISSION_CONSOLE_OIDC_REDIRECT_URL": "http://localhost:8080/ui/oidc/callback",
			"ADMISSION_CONSOLE_OIDC_ROLES": "sre=operator, platform-admins=admin"},
			check: func(t *testing.T, c Config) {
				if r := c.Console.OIDC.Roles; len(r) != 2 || r["sre"] != "operator" || r["platform-admins"] != "admin" {
					t.Fatalf("roles %v", r)
				}
			}},
		{name: "single sign-on over plain http", env: map[string]string{"ADMISSION_CONSOLE_OIDC_ISSUER": "http://idp.example.com",
			"ADMISSION_CONSOLE_OIDC_CLIENT_ID": "a", "ADMISSION_CONSOLE_OIDC_REDIRECT_URL": "https://a.example/ui/oidc/callback", "ADMISSION_CONSOLE_OIDC_ROLES": "x=viewer"},
			wantErr: "console.oidc.issuer: must be https"},
		{name: "single sign-on back to another path", env: map[string]string{"ADMISSION_CONSOLE_OIDC_ISSUER": "https://idp.example.com",
			"ADMISSION_CONSOLE_OIDC_CLIENT_ID": "a", "ADMISSION_CONSOLE_OIDC_REDIRECT_URL": "https://a.example/callback", "ADMISSION_CONSOLE_OIDC_ROLES": "x=viewer"},
			wantErr: "console.oidc.redirect_url: must be this console's callback"},
		{name: "single sign-on without roles", env: map[string]string{"ADMISSION_CONSOLE_OIDC_ISSUER": "https://idp.example.com",
			"ADMISSION_CONSOLE_OIDC_CLIENT_ID": "a", "ADMISSION_CONSOLE_OIDC_REDIRECT_URL": "https://a.example/ui/oidc/callback"},
			wantErr: "console.oidc.roles: is required"},
		{name: "single sign-on granting the agent role", env: map[string]string{"ADMISSION_CONSOLE_OIDC_ISSUER": "https://idp.example.com",
			"ADMISSION_CONSOLE_OIDC_CLIENT_ID": "a", "ADMISSION_CONSOLE_OIDC_REDIRECT_URL": "https://a.example/ui/oidc/callback", "ADMISSION_CONSOLE_OIDC_ROLES": "bots=agent"},
			wantErr: `"bots" maps to "agent"`},
		{name: "single sign-on roles not pairs", env: map[string]string{"ADMISSION_CONSOLE_OIDC_ROLES": "admin"}, wantErr: "want key=value pairs"},
		{name: "single sign-on without a client", env: map[string]string{"ADMISSION_CONSOLE_OIDC_ISSUER": "https://idp.example.com",
			"ADMISSION_CONSOLE_OIDC_REDIRECT_URL": "https://a.example/ui/oidc/callback", "ADMISSION_CONSOLE_OIDC_ROLES": "x=viewer"},
			wantErr: "console.oidc.client_id: is required"},
		{name: "github app and token", env: map[string]string{"ADMISSION_GITHUB_APP_ID": "1", "ADMISSION_GITHUB_PRIVATE_KEY": "k", "ADMISSION_GITHUB_TOKEN": "t"}, wantErr: "github.token"},
		{name: "github app without key", env: map[string]string{"ADMISSION_GITHUB_APP_ID": "1"}, wantErr: "github.private_key"},
		{name: "github key without app id", env: map[string]string{"ADMISSION_GITHUB_PRIVATE_KEY": "k"}, wantErr: "github.app_id"},
		{
			name: "gitlab",
			yaml: "webhooks:\n  gitlab:\n    token: hook-token\ngitlab:\n  base_url: https://gitlab.example.com\n  api_token: {env: GL_TOKEN}\n  oidc_audience: https://agentgate.example.com\n  runner_rates:\n    saas-linux-small-amd64: 0.005\n",
			env:  map[string]string{"GL_TOKEN": "glpat-x"},
			check: func(t *testing.T, c Config) {
				if c.Webhooks.GitLab.Token.Reveal() != "hook-token" || c.GitLab.APIToken.Reveal() != "glpat-x" || c.GitLab.OIDCAudience == "" || c.GitLab.RunnerRates["saas-linux-small-amd64"] != 0.005 {
					t.Fatalf("%+v", c.GitLab)
				}
			},
		},
		{name: "negative gitlab runner rate", yaml: "gitlab:\n  runner_rates:\n    gpu: -1\n", wantErr: "gitlab.runner_rates.gpu"},
		{
			name: "argo workflow watch",
			yaml: "argo:\n  watch:\n    enabled: \"true\"\n    kubeconfig: /etc/agentgate/kubeconfig\n    namespaces: [team-a, team-b]\n",
			env:  map[string]string{"ADMISSION_ARGO_WATCH_RESYNC": "1m"},
			check: func(t *testing.T, c Config) {
				w := c.Argo.Watch
				if w.Enabled != WatchOn || w.Kubeconfig != "/etc/agentgate/kubeconfig" || len(w.Namespaces) != 2 || w.Resync != time.Minute || w.OrphanAfter != 2*time.Minute {
					t.Fatalf("%+v", w)
				}
			},
		},
		{
			name: "argo namespace environments",
			yaml: "argo:\n  namespace_environments:\n    prod-*: production\n    payments: production\n",
			check: func(t *testing.T, c Config) {
				if c.Argo.NamespaceEnvironments["prod-*"] != "production" || len(c.Argo.NamespaceEnvironments) != 2 {
					t.Fatalf("%+v", c.Argo.NamespaceEnvironments)
				}
			},
		},
		{name: "argo namespace environment bad glob", yaml: "argo:\n  namespace_environments:\n    \"prod-[\": production\n", wantErr: "argo.namespace_environments.prod-["},
		{name: "argo namespace environment empty", yaml: "argo:\n  namespace_environments:\n    prod-*: \"\"\n", wantErr: "names no environment"},
		{name: "argo watch enabled must be a word", env: map[string]string{"ADMISSION_ARGO_WATCH_ENABLED": "yes"}, wantErr: "argo.watch.enabled"},
		{name: "argo watch resync too short", yaml: "argo:\n  watch:\n    resync: 10ms\n", wantErr: "argo.watch.resync"},
		{name: "argo hook without argo cd", env: map[string]string{"ADMISSION_ARGO_HOOK_TOKEN": "hook-token-0123456789"}, wantErr: "argo.argocd_url"},
		{name: "tracing endpoint not a URL", env: map[string]string{"ADMISSION_TRACING_ENDPOINT": "otel-collector:4318"}, wantErr: "tracing.endpoint"},
		{name: "tracing endpoint with user information", env: map[string]string{"ADMISSION_TRACING_ENDPOINT": "https://user:pw@otel.example.com"}, wantErr: "tracing.endpoint"},
		{name: "tracing sample ratio above 1", env: map[string]string{"ADMISSION_TRACING_SAMPLE_RATIO": "1.5"}, wantErr: "tracing.sample_ratio"},
		{name: "tracing sample ratio negative", yaml: "tracing:\n  sample_ratio: -0.1\n", wantErr: "tracing.sample_ratio"},
		{name: "tracing service name blank", yaml: "tracing:\n  service_name: \" \"\n", wantErr: "tracing.service_name"},
		{
			name: "rollback from the environment",
			env:  map[string]string{"ADMISSION_ROLLBACK_PROMETHEUS_URL": "http://prom:9090", "ADMISSION_ROLLBACK_THRESHOLD": "0.02", "ADMISSION_ROLLBACK_TRIP_AFTER": "2"},
			check: func(t *testing.T, c Config) {
				if c.Rollback.Threshold != 0.02 || c.Rollback.TripAfter != 2 || c.Rollback.PrometheusURL != "http://prom:9090" {
					t.Fatalf("%+v", c.Rollback)
				}
			},
		},
		{name: "bad rollback consequence", env: map[string]string{"ADMISSION_ROLLBACK_CONSEQUENCE": "explode"}, wantErr: "rollback.consequence"},
		{name: "negative runner rate", yaml: "github:\n  runner_rates:\n    gpu: -1\n", wantErr: "github.runner_rates.gpu"},
		{name: "slack without signing secret", env: map[string]string{"ADMISSION_SLACK_BOT_TOKEN": "xoxb-1", "ADMISSION_SLACK_CHANNEL": "C1"}, wantErr: "slack.signing_secret"},
		{name: "slack without channel", env: map[string]string{"ADMISSION_SLACK_BOT_TOKEN": "xoxb-1", "ADMISSION_SLACK_SIGNING_SECRET": "s"}, wantErr: "slack.channel"},
		{name: "unknown key", yaml: "server:\n  listn: x\n", wantErr: "listn"},
		{name: "tls cert without key", env: map[string]string{"ADMISSION_SERVER_TLS_CERT_FILE": "/x.crt"}, wantErr: "server.tls_cert_file"},
		{name: "bad sqlite durability", env: map[string]string{"ADMISSION_STORE_SQLITE_SYNCHRONOUS": "off"}, wantErr: "store.sqlite.synchronous"},
		{name: "zero sqlite busy timeout", env: map[string]string{"ADMISSION_STORE_SQLITE_BUSY_TIMEOUT": "0s"}, wantErr: "store.sqlite.busy_timeout"},
		{name: "bad driver", yaml: "store:\n  driver: mysql\n", wantErr: "store.driver"},
		{name: "postgres without dsn", yaml: "store:\n  driver: postgres\nauth:\n  bootstrap_token: aaaaaaaaaaaaaaaaaaaa\n", wantErr: "store.postgres.dsn"},
		{name: "postgres without bootstrap token", yaml: "store:\n  driver: postgres\n  postgres:\n    dsn: x\n", wantErr: "auth.bootstrap_token"},
		{name: "negative body cap", yaml: "server:\n  max_body_bytes: -1\n", wantErr: "server.max_body_bytes"},
		{name: "health listener not host:port", env: map[string]string{"ADMISSION_SERVER_HEALTH_LISTEN": "8081"}, wantErr: "server.health_listen"},
		{name: "health listener on the main address", env: map[string]string{"ADMISSION_SERVER_LISTEN": "0.0.0.0:8443", "ADMISSION_SERVER_HEALTH_LISTEN": "0.0.0.0:8443"}, wantErr: "server.health_listen"},
		{name: "negative connection bound", env: map[string]string{"ADMISSION_SERVER_MAX_CONNECTIONS": "-1"}, wantErr: "server.max_connections"},
		{name: "zero timeout", env: map[string]string{"ADMISSION_SERVER_READ_TIMEOUT": "0s"}, wantErr: "server.read_timeout"},
		{name: "zero idle timeout", env: map[string]string{"ADMISSION_SERVER_IDLE_TIMEOUT": "0s"}, wantErr: "server.idle_timeout"},
		{name: "unparsable env duration", env: map[string]string{"ADMISSION_POLICY_RELOAD_INTERVAL": "soon"}, wantErr: "ADMISSION_POLICY_RELOAD_INTERVAL"},
		{name: "bad token role", yaml: "auth:\n  tokens:\n  - name: sre\n    role: root\n    token: aaaaaaaaaaaaaaaaaaaa\n", wantErr: "auth.tokens[0].role"},
		{name: "short token", yaml: "auth:\n  tokens:\n  - name: sre\n    role: operator\n    token: short\n", wantErr: "auth.tokens[0].token"},
		{name: "bad fail mode", yaml: "failure:\n  production: maybe\n", wantErr: "failure.production"},
		{name: "missing secret file", yaml: "webhooks:\n  generic:\n    secret: {file: /nonexistent/x}\n", wantErr: "read secret file"},
		{name: "bad log level", env: map[string]string{"ADMISSION_LOG_LEVEL": "loud"}, wantErr: "log.level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeFile(t, "agentgate.yaml", tc.yaml)
			}
			cfg, err := Load(path, envMap(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to name %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2-hunter2", "inline")
	cfg := Default()
	cfg.Webhooks.Generic.Secret = s
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "secret", s, "config", cfg)
	js, _ := json.Marshal(cfg)
	outputs := map[string]string{
		"fmt %v": fmt.Sprintf("%v", s), "fmt %+v config": fmt.Sprintf("%+v", cfg), "fmt %#v": fmt.Sprintf("%#v", s),
		"json": string(js), "slog": logged.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
	}
	if s.Reveal() != "hunter2-hunter2" {
		t.Fatal("Reveal lost the value")
	}
}
