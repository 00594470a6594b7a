package config

import (
	"time"
)

// Config is agentgate's whole configuration. Load returns it validated;
// treat it as read-only afterwards.
type Config struct {
	Server   Server   `yaml:"server"`
	DataDir  string   `yaml:"data_dir"`
	Store    Store    `yaml:"store"`
	Policy   Policy   `yaml:"policy"`
	Auth     Auth     `yaml:"auth"`
	Webhooks Webhooks `yaml:"webhooks"`
	GitHub   GitHub   `yaml:"github"`
	GitLab   GitLab   `yaml:"gitlab"`
	Argo     Argo     `yaml:"argo"`
	Slack    Slack    `yaml:"slack"`
	Rollback Rollback `yaml:"rollback"`
	Failure  Failure  `yaml:"failure"`
	Log      Log      `yaml:"log"`
}

// Server configures the HTTP listener.
type Server struct {
	Listen          string        `yaml:"listen"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	RequestTimeout  time.Duration `yaml:"request_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// InstanceID names this replica for leader election; default hostname-pid.
	InstanceID string `yaml:"instance_id"`
	// TLSCertFile and TLSKeyFile serve HTTPS (required for the Kubernetes
	// admission webhook); the pair is reloaded when the files change.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
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

// GitLabHook configures POST /webhooks/gitlab.
type GitLabHook struct {
	// Token is the hook's secret token (X-Gitlab-Token). Without it every
	// delivery is refused.
	Token Secret `yaml:"token"`
}

// GitLab configures calls to the GitLab API and the verification of CI job
// ID tokens for admission gate.
type GitLab struct {
	// BaseURL is https://gitlab.com by default, or a self-managed instance.
	BaseURL string `yaml:"base_url"`
	// APIToken (scope api) cancels pipelines, sets commit statuses and
	// approves deployments.
	APIToken Secret `yaml:"api_token"`
	// ApprovalRule is the protected environment approval rule agentgate
	// approves as (represented_as), when the environment has several.
	ApprovalRule string `yaml:"approval_rule"`
	// RunnerRates are USD per job minute by runner tag; "default" applies
	// when no tag of a job has a rate.
	RunnerRates map[string]float64 `yaml:"runner_rates"`
	// OIDCAudience is the aud that job ID tokens must carry (id_tokens
	// aud in .gitlab-ci.yml). Without it admission gate refuses every job.
	OIDCAudience string `yaml:"oidc_audience"`
	// OIDCIssuer defaults to BaseURL; OIDCJWKSURL to the issuer's
	// /oauth/discovery/keys.
	OIDCIssuer  string `yaml:"oidc_issuer"`
	OIDCJWKSURL string `yaml:"oidc_jwks_url"`
}

// GitHubHook configures POST /webhooks/github.
type GitHubHook struct {
	// Secret is the webhook secret (X-Hub-Signature-256). Without it every
	// delivery is refused.
	Secret Secret `yaml:"secret"`
}

// GitHub configures calls to the GitHub API that enforce decisions.
type GitHub struct {
	// BaseURL is https://api.github.com/ by default, or
	// https://HOST/api/v3/ for GitHub Enterprise Server.
	BaseURL string `yaml:"base_url"`
	// AppID and PrivateKey authenticate as a GitHub App (installation
	// tokens per event); Token is the simpler alternative. Not both.
	AppID      int64  `yaml:"app_id"`
	PrivateKey Secret `yaml:"private_key"`
	Token      Secret `yaml:"token"`
	// RunnerRates are USD per runner minute by runner label; "default"
	// applies when no label of a job has a rate.
	RunnerRates map[string]float64 `yaml:"runner_rates"`
	// Redelivery asks GitHub to deliver again the App webhook deliveries
	// that failed (GitHub never does so by itself). It needs App
	// credentials; it runs on the leader.
	Redelivery Redelivery `yaml:"redelivery"`
}

// Redelivery configures the scan for failed GitHub deliveries.
type Redelivery struct {
	// Interval is how often the deliveries are scanned (default 5m; 0
	// turns the scan off). A scan also runs as soon as the store is back
	// after an outage.
	Interval time.Duration `yaml:"interval"`
	// Lookback is how far back a scan looks (default 24h, at most 72h,
	// which is as long as GitHub keeps deliveries).
	Lookback time.Duration `yaml:"lookback"`
}

// Generic configures POST /webhooks/generic.
type Generic struct {
	// Secret is the HMAC-SHA256 key. Without it every request is refused.
	Secret Secret `yaml:"secret"`
}

// Argo configures the Argo Workflows admission webhook and the Argo CD
// PreSync hook gate.
type Argo struct {
	// HookToken authenticates the Argo CD hook Jobs (admission hook
	// presync|postsync) and POST /webhooks/argo; without it every such call
	// is refused.
	HookToken Secret `yaml:"hook_token"`
	// ArgoCDURL and ArgoCDToken read Applications (who started a sync).
	ArgoCDURL   string `yaml:"argocd_url"`
	ArgoCDToken Secret `yaml:"argocd_token"`
	// ArgoCDNamespace is the namespace of Applications named without one
	// (default argocd).
	ArgoCDNamespace string `yaml:"argocd_namespace"`
	// ServerServiceAccounts are the Argo server's accounts, whose requests
	// carry the signed-in user in the creator labels; ControllerServiceAccounts
	// are the workflow controller's, admitted without a decision.
	ServerServiceAccounts     []string `yaml:"server_service_accounts"`
	ControllerServiceAccounts []string `yaml:"controller_service_accounts"`
	// NamespaceEnvironments maps namespace globs (path.Match) to the
	// environment a Workflow in such a namespace acts in (an exact
	// namespace wins, then the longest glob), so the environment rules
	// (scope, production approval) apply to Workflows too.
	NamespaceEnvironments map[string]string `yaml:"namespace_environments"`
	// Watch releases the concurrent_workflows leases of Workflows that
	// finish.
	Watch ArgoWatch `yaml:"watch"`
}

// Values of ArgoWatch.Enabled.
const (
	WatchAuto = "auto"
	WatchOn   = "true"
	WatchOff  = "false"
)

// ArgoWatch configures the watch on Argo Workflows that gives back an
// agent's running-workflow lease when its Workflow completes or is deleted.
type ArgoWatch struct {
	// Enabled is auto (default: watch when running in a Kubernetes cluster
	// or when Kubeconfig is set), true (fail to start without a cluster) or
	// false (leases lapse after their TTL).
	Enabled string `yaml:"enabled"`
	// Kubeconfig is a kubeconfig file to reach the cluster from outside it;
	// empty uses the in-cluster service account.
	Kubeconfig string `yaml:"kubeconfig"`
	// Namespaces limits the watch (a Role per namespace suffices); empty
	// watches every namespace (a ClusterRole is needed).
	Namespaces []string `yaml:"namespaces"`
	// Resync is how often leases are reconciled with the Workflows in the
	// cluster (default 5m).
	Resync time.Duration `yaml:"resync"`
	// OrphanAfter is how long a leased Workflow must be missing from the
	// cluster before its lease is released (default 2m).
	OrphanAfter time.Duration `yaml:"orphan_after"`
	// ControllerManagers are the field managers of the workflow
	// controller (default workflow-controller): a completed phase frees a
	// slot only when one of them owns status.phase in managedFields.
	ControllerManagers []string `yaml:"controller_managers"`
}

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

// Default returns the configuration used with no file: SQLite in ./data,
// the built-in policies, listening on 127.0.0.1:8080.
func Default() Config {
	return Config{
		Server: Server{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    1 << 20,
			ReadTimeout:     10 * time.Second,
			WriteTimeout:    30 * time.Second,
			RequestTimeout:  20 * time.Second,
			ShutdownTimeout: 20 * time.Second,
		},
		DataDir:  "data",
		Store:    Store{Driver: "sqlite", SQLite: SQLite{Synchronous: "full", BusyTimeout: 10 * time.Second}, Postgres: Postgres{MaxConns: 20}},
		Policy:   Policy{ReloadInterval: 5 * time.Second},
		Auth:     Auth{AgentTokenGrace: time.Hour},
		Webhooks: Webhooks{DeliveryTTL: 72 * time.Hour},
		Failure: Failure{
			Production:             FailClosed,
			Deploy:                 FailClosed,
			Build:                  FailOpen,
			ProductionEnvironments: []string{"production", "prod", "prod-*"},
		},
		Log:    Log{Level: "info", Format: "text"},
		Argo:   Argo{Watch: ArgoWatch{Enabled: WatchAuto, Resync: 5 * time.Minute, OrphanAfter: 2 * time.Minute}},
		GitHub: GitHub{Redelivery: Redelivery{Interval: 5 * time.Minute, Lookback: 24 * time.Hour}},
		Rollback: Rollback{
			Query:     `sum(rate(http_requests_total{namespace="{{.Namespace}}",code=~"5.."}[5m])) / sum(rate(http_requests_total{namespace="{{.Namespace}}"}[5m]))`,
			Threshold: 0.05, BaselineFactor: 3, TripAfter: 3, NoDataAfter: 5,
			Interval: 30 * time.Second, Window: 15 * time.Minute, IncidentWindow: 30 * time.Minute, GitHubMode: "rerun", Consequence: "none",
		},
	}
}
