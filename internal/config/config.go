package config

import (
	"time"

	"github.com/agentgate/agentgate/internal/providers/argo"
	"github.com/agentgate/agentgate/internal/providers/generic"
	"github.com/agentgate/agentgate/internal/providers/github"
	"github.com/agentgate/agentgate/internal/providers/gitlab"
)

// Config is agentgate's whole configuration. Load returns it validated;
// treat it as read-only afterwards.
type Config struct {
	Server    Server    `yaml:"server"`
	DataDir   string    `yaml:"data_dir"`
	Store     Store     `yaml:"store"`
	Policy    Policy    `yaml:"policy"`
	Auth      Auth      `yaml:"auth"`
	Webhooks  Webhooks  `yaml:"webhooks"`
	GitHub    GitHub    `yaml:"github"`
	GitLab    GitLab    `yaml:"gitlab"`
	Argo      Argo      `yaml:"argo"`
	Slack     Slack     `yaml:"slack"`
	Rollback  Rollback  `yaml:"rollback"`
	Failure   Failure   `yaml:"failure"`
	Log       Log       `yaml:"log"`
	Tracing   Tracing   `yaml:"tracing"`
	Console   Console   `yaml:"console"`
	Promotion Promotion `yaml:"promotion"`
}

// Promotion configures promotion from track record (the policy's
// data.agentgate.promotion.assessment).
type Promotion struct {
	// Mode is confirm (default: a proposal waits for the agent's owner or
	// an admin), auto (applied at once) or off.
	Mode string `yaml:"mode"`
	// Interval is how often the leader assesses every active agent.
	Interval time.Duration `yaml:"interval"`
	// Window is the track record's window.
	Window time.Duration `yaml:"window"`
}

// Console configures the web console at /ui.
type Console struct {
	// Enabled serves the console (default true).
	Enabled bool `yaml:"enabled"`
	// SessionKey signs session cookies: at least 32 characters, the same
	// on every replica. Empty: a random key per process, so sessions end
	// at a restart and hold on one replica only.
	SessionKey Secret `yaml:"session_key"`
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// OIDC offers single sign-on with an OpenID Connect provider beside
	// sign-in with an API token; off while issuer is empty.
	OIDC ConsoleOIDC `yaml:"oidc"`
}

// ConsoleOIDC configures the console's single sign-on (authorization
// code flow with PKCE).
type ConsoleOIDC struct {
	// Issuer is the provider's issuer URL: https, or http on a loopback
	// host.
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is the confidential client's secret; empty for a
	// public client (PKCE alone).
	ClientSecret Secret `yaml:"client_secret"`
	// RedirectURL is the console's callback as registered at the
	// provider: https://HOST/ui/oidc/callback.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes asked for besides openid (default email, profile).
	Scopes []string `yaml:"scopes"`
	// NameClaim names the person in the audit log (default email).
	NameClaim string `yaml:"name_claim"`
	// RolesClaim holds the person's groups (default groups).
	RolesClaim string `yaml:"roles_claim"`
	// Roles maps a group to viewer, operator or admin; "*" is everyone
	// the provider signs in. The highest applies; no role, no entry.
	Roles map[string]string `yaml:"roles"`
	// Label is the sign-in button's text.
	Label string `yaml:"label"`
}

// Server configures the HTTP listener.
type Server struct {
	Listen       string        `yaml:"listen"`
	MaxBodyBytes int64         `yaml:"max_body_bytes"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that has carried no
	// request for this long; until then it holds one of MaxConnections.
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	RequestTimeout  time.Duration `yaml:"request_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// InstanceID names this replica for leader election; default hostname-pid.
	InstanceID string `yaml:"instance_id"`
	// TLSCertFile and TLSKeyFile serve HTTPS (required for the Kubernetes
	// admission webhook); the pair is reloaded when the files change.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// DebugListen, when set, serves Go's runtime profiles (/debug/pprof/)
	// on a second, unauthenticated listener; it must be a loopback
	// address (reach it with kubectl port-forward).
	DebugListen string `yaml:"debug_listen"`
	// MaxDecisionsInFlight bounds the decisions worked on at once, so that
	// a burst is worked through at the replica's pace instead of all at
	// once; more wait for a slot in the order they came, at most
	// MaxDecisionsQueued of them and no longer than their request's
	// deadline, and are answered 503 with Retry-After beyond that (nothing
	// decided, nothing recorded).
	MaxDecisionsInFlight int `yaml:"max_decisions_in_flight"`
	MaxDecisionsQueued   int `yaml:"max_decisions_queued"`
	// MaxConnections bounds the connections the listener holds open, so
	// that a replica's memory stays bounded however many clients connect
	// (each open connection keeps a goroutine and its buffers): one more
	// is accepted only when one closes, and until then waits in the
	// kernel's listen backlog. 0: no bound.
	MaxConnections int `yaml:"max_connections"`
	// HealthListen, when set, serves /healthz, /readyz and /metrics on a
	// second, plain HTTP listener outside MaxConnections, so that the
	// kubelet's probes and Prometheus's scrapes are answered at once when
	// the main listener is at its bound.
	HealthListen string `yaml:"health_listen"`
}

// Store selects and configures the backend.
type Store struct {
	// Driver is sqlite (default) or postgres.
	Driver   string   `yaml:"driver"`
	SQLite   SQLite   `yaml:"sqlite"`
	Postgres Postgres `yaml:"postgres"`
}

// SQLite configures the embedded store.
type SQLite struct {
	// Path defaults to DATA_DIR/agentgate.db.
	Path string `yaml:"path"`
	// Synchronous is full (default: every commit, and so every audit
	// record, is fsynced before the answer) or normal (synced at WAL
	// checkpoints: survives a crash of agentgate, but a power loss may
	// lose the last commits).
	Synchronous string `yaml:"synchronous"`
	// BusyTimeout is how long a write waits for a lock another process
	// holds on the database before the request is answered 503.
	BusyTimeout time.Duration `yaml:"busy_timeout"`
}

// Postgres configures the PostgreSQL store.
type Postgres struct {
	// DSN may hold a password, so it is a secret.
	DSN      Secret `yaml:"dsn"`
	MaxConns int    `yaml:"max_conns"`
}

// Policy configures where policies come from.
type Policy struct {
	// Dir replaces the built-in policies with a directory, hot-reloaded.
	Dir            string        `yaml:"dir"`
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// RecordInputs keeps every decision's policy input, compressed, for
	// `admission policy replay` (default true).
	RecordInputs bool `yaml:"record_inputs"`
	// InputRetention is how long recorded inputs are kept.
	InputRetention time.Duration `yaml:"input_retention"`
	// ShadowDir, when set, is a candidate policy directory evaluated beside
	// the live set on every decision without affecting it, hot-reloaded.
	ShadowDir string `yaml:"shadow_dir"`
}

// Role is an API role.
type Role string

// API roles, weakest first. Agents authenticate with their own tokens and
// get RoleAgent, which only reads its own state.
const (
	RoleAgent    Role = "agent"
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Rank orders roles; -1 for unknown.
func (r Role) Rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	case RoleAgent:
		return 0
	}
	return -1
}

// Auth configures API authentication.
type Auth struct {
	// BootstrapToken is an admin token. When unset on SQLite, one is
	// generated at first start, printed once, and its hash kept in DataDir.
	BootstrapToken Secret `yaml:"bootstrap_token"`
	// Tokens are static API tokens for people and automation.
	Tokens []Token `yaml:"tokens"`
	// AgentTokenGrace is how long a rotated-out agent token keeps working.
	AgentTokenGrace time.Duration `yaml:"agent_token_grace"`
}

// Token is a static API token.
type Token struct {
	// Name identifies the caller in audit records (a person or team).
	Name  string `yaml:"name"`
	Role  Role   `yaml:"role"`
	Token Secret `yaml:"token"`
}

// Webhooks configures the webhook receivers.
type Webhooks struct {
	// DeliveryTTL is how long delivery ids are remembered for de-duplication.
	DeliveryTTL time.Duration `yaml:"delivery_ttl"`
	Generic     Generic       `yaml:"generic"`
	GitHub      GitHubHook    `yaml:"github"`
	GitLab      GitLabHook    `yaml:"gitlab"`
}

// The provider packages own their sections: their types, defaults and
// validation. These names are the configuration's for them.
type (
	// GitHub is the github section (github.Config).
	GitHub = github.Config
	// Redelivery is github.redelivery.
	Redelivery = github.RedeliveryConfig
	// GitHubHook is webhooks.github.
	GitHubHook = github.HookConfig
	// GitLab is the gitlab section (gitlab.Config).
	GitLab = gitlab.Config
	// GitLabHook is webhooks.gitlab.
	GitLabHook = gitlab.HookConfig
	// Generic is webhooks.generic.
	Generic = generic.HookConfig
	// Argo is the argo section (argo.Config).
	Argo = argo.Config
	// ArgoWatch is argo.watch.
	ArgoWatch = argo.WatchConfig
)

// Values of ArgoWatch.Enabled.
const (
	WatchAuto = argo.WatchAuto
	WatchOn   = argo.WatchOn
	WatchOff  = argo.WatchOff
)

// Rollback configures watches after agent deploys and rollbacks. Without
// a Prometheus URL rollback is off.
type Rollback struct {
	// PrometheusURL is the Prometheus HTTP API queried by watches.
	PrometheusURL string `yaml:"prometheus_url"`
	// Query is the PromQL error-ratio template; {{.Repo}}, {{.Environment}},
	// {{.Namespace}} and {{.App}} are filled in (escaped).
	Query string `yaml:"query"`
	// Queries overrides Query per service: keys are "repo@environment" or
	// "repo" (the repo or Argo CD app as deployments record it).
	Queries map[string]string `yaml:"queries"`
	// A reading breaches above Threshold, or above BaselineFactor times the
	// pre-deploy baseline; TripAfter consecutive breaches roll back.
	Threshold      float64 `yaml:"threshold"`
	BaselineFactor float64 `yaml:"baseline_factor"`
	TripAfter      int     `yaml:"trip_after"`
	// NoDataAfter consecutive empty readings report the watch as no_data.
	NoDataAfter int `yaml:"no_data_after"`
	// Interval is the time between a watch's readings (1s at least) and
	// Window how long a watch lasts.
	Interval time.Duration `yaml:"interval"`
	Window   time.Duration `yaml:"window"`
	// IncidentWindow is how long an incident stays open after its last
	// trigger, or after Alertmanager reported its alerts resolved: every
	// automatic trigger for the same deployment meanwhile (alert repeats,
	// flaps, a watch) joins the incident's one rollback.
	IncidentWindow time.Duration `yaml:"incident_window"`
	// GitHubMode is rerun (re-run the previous deployment's run) or
	// dispatch (dispatch its workflow with the previous sha).
	GitHubMode string `yaml:"github_mode"`
	// AlertmanagerToken authenticates POST /webhooks/alertmanager
	// (Authorization: Bearer); without it every alert is refused.
	AlertmanagerToken Secret `yaml:"alertmanager_token"`
	// Consequence for the agent whose deploy was rolled back automatically
	// when the policy's decision.on_rollback says nothing: none, demote
	// (one tier down) or kill (its kill switch).
	Consequence string `yaml:"consequence"`
}

// Slack configures approval messages with Approve and Reject buttons.
// Without a bot token Slack is off and approvals go through the API only.
type Slack struct {
	BotToken Secret `yaml:"bot_token"`
	// SigningSecret verifies POST /slack/interactions; without it every
	// interaction is refused.
	SigningSecret Secret `yaml:"signing_secret"`
	// Channel receives approval requests (a channel id such as C0123).
	Channel string `yaml:"channel"`
	// Channels routes by environment glob to another channel.
	Channels map[string]string `yaml:"channels"`
	// DMOwner also messages the agent's owner when it is a Slack user id.
	DMOwner bool `yaml:"dm_owner"`
	// APIURL overrides https://slack.com/api/ (a proxy, tests).
	APIURL string `yaml:"api_url"`
}

// FailMode is what happens to a change when agentgate cannot decide.
type FailMode string

// Fail modes.
const (
	FailClosed FailMode = "closed"
	FailOpen   FailMode = "open"
)

// Failure sets the fail mode per action class when the policy cannot be
// evaluated. Production changes by agents fail closed unless set otherwise.
type Failure struct {
	Production             FailMode `yaml:"production"`
	Deploy                 FailMode `yaml:"deploy"`
	Build                  FailMode `yaml:"build"`
	ProductionEnvironments []string `yaml:"production_environments"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Tracing configures OpenTelemetry traces, exported over OTLP/HTTP. Off
// without an endpoint.
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP address, e.g.
	// http://otel-collector:4318 (/v1/traces is added when the URL has
	// no path) or the full traces URL.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of traces recorded, 0 to 1; a request that
	// carries a W3C traceparent continues its trace, sampled at the same
	// ratio.
	SampleRatio float64 `yaml:"sample_ratio"`
	// ServiceName is the resource's service.name.
	ServiceName string `yaml:"service_name"`
}

// Default returns the configuration used with no file: SQLite in ./data,
// the built-in policies, listening on 127.0.0.1:8080.
func Default() Config {
	return Config{
		Server: Server{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    1 << 20,
			ReadTimeout:     10 * time.Second,
			WriteTimeout:    30 * time.Second,
			IdleTimeout:     2 * time.Minute,
			RequestTimeout:  20 * time.Second,
			ShutdownTimeout: 20 * time.Second,

			MaxDecisionsInFlight: 256,
			MaxDecisionsQueued:   1024,
			MaxConnections:       2048,
		},
		DataDir:  "data",
		Store:    Store{Driver: "sqlite", SQLite: SQLite{Synchronous: "full", BusyTimeout: 10 * time.Second}, Postgres: Postgres{MaxConns: 20}},
		Policy:   Policy{ReloadInterval: 5 * time.Second, RecordInputs: true, InputRetention: 14 * 24 * time.Hour},
		Auth:     Auth{AgentTokenGrace: time.Hour},
		Webhooks: Webhooks{DeliveryTTL: 72 * time.Hour},
		Failure: Failure{
			Production:             FailClosed,
			Deploy:                 FailClosed,
			Build:                  FailOpen,
			ProductionEnvironments: []string{"production", "prod", "prod-*"},
		},
		Log:       Log{Level: "info", Format: "text"},
		Tracing:   Tracing{SampleRatio: 1, ServiceName: "agentgate"},
		Console:   Console{Enabled: true, SessionTTL: 8 * time.Hour},
		Promotion: Promotion{Mode: "confirm", Interval: time.Hour, Window: 30 * 24 * time.Hour},
		Argo:      argo.DefaultConfig(),
		GitHub:    github.DefaultConfig(),
		Rollback: Rollback{
			Query:     `sum(rate(http_requests_total{namespace="{{.Namespace}}",code=~"5.."}[5m])) / sum(rate(http_requests_total{namespace="{{.Namespace}}"}[5m]))`,
			Threshold: 0.05, BaselineFactor: 3, TripAfter: 3, NoDataAfter: 5,
			Interval: 30 * time.Second, Window: 15 * time.Minute, IncidentWindow: 30 * time.Minute, GitHubMode: "rerun", Consequence: "none",
		},
	}
}
