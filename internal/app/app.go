package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/approval"
	slackui "github.com/agentgate/agentgate/internal/approval/slack"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/console"
	"github.com/agentgate/agentgate/internal/debugserver"
	"github.com/agentgate/agentgate/internal/enforce"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/promotion"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/argo/wfwatch"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/replay"
	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/server"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/postgres"
	"github.com/agentgate/agentgate/internal/store/sqlite"
	"github.com/agentgate/agentgate/internal/telemetry"
	"github.com/agentgate/agentgate/policies"
)

// Options are what the caller adds to the configuration.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	// Providers builds the webhook providers from the configuration (the
	// explicit provider registry lives in cmd/admission).
	Providers func(cfg config.Config, log *slog.Logger) ([]providers.Provider, error)
	// Announce receives one-time messages for the operator (the generated
	// bootstrap token); os.Stderr when nil.
	Announce io.Writer
	Now      func() time.Time
	// Version is reported as the traces' service.version.
	Version string
}

// App is an assembled agentgate.
type App struct {
	Config    config.Config
	Store     store.Store
	Policy    *policy.Engine
	Registry  *registry.Service
	Approvals *approval.Service
	Dispatch  *enforce.Dispatcher
	Gate      *gate.Gate
	Server    *server.Server
	Metrics   *telemetry.Metrics
	// Tracing exports traces when tracing.endpoint is set.
	Tracing *telemetry.Tracing
	// Slack is the approval front end, nil when Slack is not configured.
	Slack *slackui.Notifier
	// Rollback watches agent deploys, nil without rollback.prometheus_url.
	Rollback *rollback.Engine
	// WorkflowWatch releases the running-workflow leases of finished Argo
	// Workflows; nil when argo.watch is off (see newWorkflowWatch).
	WorkflowWatch *wfwatch.Watcher
	// Promotion proposes promotions from track records; nil when
	// promotion.mode is off.
	Promotion *promotion.Service
	// Shadow evaluates policy.shadow_dir beside the live policy; nil
	// without one. ShadowPolicy is its engine.
	Shadow       *replay.Shadow
	ShadowPolicy *policy.Engine
	// nextPromotion is when the leader next runs a promotion pass (Unix
	// nanoseconds).
	nextPromotion atomic.Int64
	log           *slog.Logger
	evalWorkers   *policy.Workers
	holder        string
	redeliver     *redeliverer
	providers     *providers.Registry
	// leaseUntil is when this replica's background lease runs out (Unix
	// nanoseconds, minus a margin); zero when it does not lead.
	leaseUntil atomic.Int64
}

// New builds the service. Close releases what it opened.
func New(ctx context.Context, o Options) (*App, error) {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Announce == nil {
		o.Announce = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &App{Config: cfg, log: log, holder: instanceID(cfg)}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a.Store = st
	ok := false
	defer func() {
		if !ok {
			_ = st.Close()
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Metrics = telemetry.New(reg)

	if a.Tracing, err = telemetry.NewTracing(ctx, telemetry.TracingOptions{
		Endpoint: cfg.Tracing.Endpoint, SampleRatio: cfg.Tracing.SampleRatio, ServiceName: cfg.Tracing.ServiceName,
		Version: o.Version, InstanceID: a.holder, Logger: log.With("component", "tracing"),
	}); err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			_ = a.Tracing.Shutdown(context.Background())
		}
	}()
	// Evaluations run on goroutines of their own, so that requests'
	// goroutines keep small stacks (see policy.Workers).
	a.evalWorkers = policy.NewWorkers(2 * runtime.GOMAXPROCS(0))
	defer func() {
		if !ok {
			a.evalWorkers.Close()
		}
	}()
	if a.Policy, err = a.openPolicy(ctx); err != nil {
		return nil, err
	}
	a.Dispatch = enforce.New(enforce.Options{Audit: st, Metrics: a.Metrics, Logger: log.With("component", "enforce")})
	a.Registry = registry.New(registry.Options{Store: st, Logger: log.With("component", "registry"), Now: o.Now, TokenGrace: cfg.Auth.AgentTokenGrace,
		OnApprovalsResolved: func(ctx context.Context, list []store.Approval, note string) { a.Approvals.Released(ctx, list, note) }})
	if _, err := a.Registry.CanonicalizeStored(ctx); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	telemetry.RegisterKillSwitchGauge(reg, a.countKillSwitches)
	telemetry.RegisterRegistryCacheGauge(reg, st.RegistryCacheLive)
	telemetry.RegisterGroupCommitCounters(reg, st.BatchStats)
	var provs []providers.Provider
	if o.Providers != nil {
		if provs, err = o.Providers(cfg, log.With("component", "provider")); err != nil {
			return nil, err
		}
	}
	preg, err := providers.NewRegistry(provs...)
	if err != nil {
		return nil, err
	}
	a.providers = preg
	// Series at zero from the start: the providers, the built-in agent
	// types and the built-in policy's quotas.
	a.Metrics.Init(preg.Names(),
		[]string{agents.TypeCoding, agents.TypeTesting, agents.TypeDeployment, agents.TypeDataPipeline, "human", "unregistered"},
		[]string{"builds_per_hour", "api_calls_per_minute", "concurrent_environments", "concurrent_workflows"})
	if cfg.Promotion.Mode != "off" {
		if a.Promotion, err = promotion.New(promotion.Options{Store: st, Registry: a.Registry, Policy: a.Policy,
			Mode: promotion.Mode(cfg.Promotion.Mode), Window: cfg.Promotion.Window, Logger: log.With("component", "promotion"), Now: o.Now,
			OnProposal: func(ctx context.Context, p store.Proposal) {
				if a.Slack != nil {
					a.Slack.PromotionProposed(ctx, p)
				}
			}}); err != nil {
			return nil, err
		}
	}
	if a.Slack, err = a.newSlack(log.With("component", "slack")); err != nil {
		return nil, err
	}
	if a.Rollback, err = a.newRollback(log.With("component", "rollback"), preg); err != nil {
		return nil, err
	}
	var onDeployment func(context.Context, store.Deployment)
	if a.Rollback != nil {
		onDeployment = a.watchDeployment
	}
	if dir := cfg.Policy.ShadowDir; dir != "" {
		if a.ShadowPolicy, err = policy.LoadDir(ctx, dir, policy.Options{Logger: log.With("component", "shadow-policy")}); err != nil {
			return nil, fmt.Errorf("load the shadow policy from %s: %w", dir, err)
		}
		a.Shadow = replay.NewShadow(replay.ShadowOptions{Candidate: a.ShadowPolicy, Logger: log.With("component", "shadow-policy"),
			OnResult: func(result, change string) {
				a.Metrics.ShadowDecisions.WithLabelValues(result).Inc()
				if change != "" {
					a.Metrics.ShadowChanges.WithLabelValues(change).Inc()
				}
			}})
	}
	var notifier gate.ApprovalNotifier
	if a.Slack != nil {
		notifier = a.Slack
	}
	a.Gate = gate.New(gate.Options{
		Store: st, Identify: a.Registry, Policy: a.Policy, Revision: func() string { return a.Policy.Status().Revision },
		Killer: a.Registry, Notifier: notifier, OnDeployment: onDeployment, Metrics: a.Metrics, Logger: log.With("component", "gate"),
		Failure: cfg.Failure, DeliveryTTL: cfg.Webhooks.DeliveryTTL, Now: o.Now, Tracer: a.Tracing.Tracer(),
		Inputs: inputCodec(cfg.Policy.RecordInputs), Shadow: observer(a.Shadow),
		MaxInFlight: cfg.Server.MaxDecisionsInFlight, MaxQueued: cfg.Server.MaxDecisionsQueued,
	})
	if a.WorkflowWatch, err = a.newWorkflowWatch(cfg.Argo.Watch, log.With("component", "argo-watch")); err != nil {
		return nil, err
	}
	if a.WorkflowWatch != nil {
		telemetry.RegisterWorkflowWatchGauge(reg, a.WorkflowWatch.Synced)
	}
	a.redeliver = newRedeliverer(provs, cfg, st, a.Metrics, log.With("component", "github-redelivery"))
	for _, p := range provs {
		// The Argo admission webhook reads which agent is behind a
		// CronWorkflow whose Workflows the controller creates.
		if u, ok := p.(attributionUser); ok {
			u.UseAttributions(st)
		}
	}
	if a.WorkflowWatch != nil {
		// The Argo admission webhook resolves template references from
		// the watch's caches.
		for _, p := range provs {
			if u, ok := p.(templateUser); ok {
				u.UseTemplates(a.WorkflowWatch)
			}
		}
	}
	approvalOpts := approval.Options{Store: st, Providers: preg, Dispatch: a.Dispatch, Logger: log.With("component", "approval"), Now: o.Now}
	if a.Slack != nil {
		approvalOpts.OnResolved = a.Slack.ApprovalResolved
	}
	a.Approvals = approval.New(approvalOpts)
	tokens, err := a.staticTokens(o.Announce)
	if err != nil {
		return nil, err
	}
	a.Server = server.New(server.Options{
		Config: cfg.Server, Logger: log.With("component", "http"), Store: st, Gate: a.Gate, Registry: a.Registry,
		Approvals: a.Approvals, Dispatch: a.Dispatch, Interactions: interactions(a.Slack),
		Rollbacks: rollbacks(a.Rollback), AlertmanagerToken: a.Config.Rollback.AlertmanagerToken.Reveal(),
		Providers: preg, Tokens: tokens, PolicyStatus: a.Policy.Status, Metrics: a.Metrics, Gatherer: reg, Tracing: a.Tracing,
		ConsoleKey: consoleKey(cfg, log), ConsoleTTL: cfg.Console.SessionTTL, ConsoleOIDC: consoleOIDC(cfg.Console.OIDC),
		Promotions: promotions(a.Promotion), Shadow: candidate(a.ShadowPolicy),
	})
	ok = true
	return a, nil
}

// consoleOIDC is the console's single sign-on; nil when not configured.
func consoleOIDC(o config.ConsoleOIDC) *console.OIDC {
	if o.Issuer == "" {
		return nil
	}
	return &console.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(), RedirectURL: o.RedirectURL,
		Scopes: o.Scopes, NameClaim: o.NameClaim, RolesClaim: o.RolesClaim, Roles: o.Roles, Label: o.Label}
}

// consoleKey is the key that signs console sessions: the configured one,
// or a random one for this process; nil when the console is off.
func consoleKey(cfg config.Config, log *slog.Logger) []byte {
	if !cfg.Console.Enabled {
		return nil
	}
	if k := cfg.Console.SessionKey; k.IsSet() {
		return []byte(k.Reveal())
	}
	if cfg.Store.Driver == "postgres" {
		log.Warn("console.session_key is not set: console sessions hold on this replica only and end at its restart")
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read does not fail (Go 1.24+)
	return key
}

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		st, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Store.Postgres.DSN.Reveal(), MaxConns: cfg.Store.Postgres.MaxConns, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	default:
		sync := sqlite.SyncFull
		if cfg.Store.SQLite.Synchronous == "normal" {
			sync = sqlite.SyncNormal
		}
		st, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.Store.SQLite.Path, Logger: log, Synchronous: sync, BusyTimeout: cfg.Store.SQLite.BusyTimeout})
		if err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Store.SQLite.Path, err)
		}
		return st, nil
	}
}

// openPolicy loads the built-in policies or the configured directory and
// records reloads in metrics and in the audit log.
func (a *App) openPolicy(ctx context.Context) (*policy.Engine, error) {
	opts := policy.Options{Logger: a.log.With("component", "policy"), OnReload: a.onPolicyReload, Workers: a.evalWorkers}
	if dir := a.Config.Policy.Dir; dir != "" {
		eng, err := policy.LoadDir(ctx, dir, opts)
		if err != nil {
			return nil, fmt.Errorf("load policies from %s: %w", dir, err)
		}
		return eng, nil
	}
	// The built-in set's Rego tests run with go test, not at every start.
	opts.FS, opts.Source, opts.SkipTests = policies.FS(), "built-in", true
	eng, err := policy.New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("load built-in policies: %w", err)
	}
	return eng, nil
}

// onPolicyReload counts a reload attempt and records it in the audit log.
func (a *App) onPolicyReload(ev policy.ReloadEvent) {
	result, msg := "success", "policy set reloaded"
	if ev.Err != nil {
		result, msg = "failure", "policy reload rejected; last good set still serving: "+ev.Err.Error()
		a.Metrics.PolicyHealthy.Set(0)
	} else {
		a.Metrics.PolicyHealthy.Set(1)
	}
	a.Metrics.PolicyReloads.WithLabelValues(result).Inc()
	rec := &audit.Record{ID: uuid.NewString(), Time: time.Now(), Kind: audit.KindPolicyReload, Actor: "policy-watcher",
		Message: msg, Details: map[string]string{"revision": ev.Revision, "previous": ev.Previous, "result": result, "source": ev.Source}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Store.AppendAudit(ctx, rec); err != nil {
		a.log.Error("could not audit policy reload", "err", err)
	}
}

func (a *App) countKillSwitches(ctx context.Context) (map[string]int, error) {
	list, err := a.Store.ListKillSwitches(ctx, true)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, ks := range list {
		out[string(ks.Scope)]++
	}
	return out, nil
}

// Run serves HTTP, watches the policy directory and runs leader work until
// ctx ends.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tasks := []func(context.Context) error{a.Server.Run, a.Dispatch.Run, a.runLeader}
	if dir := a.Config.Policy.Dir; dir != "" {
		tasks = append(tasks, func(ctx context.Context) error { return a.Policy.Watch(ctx, dir, a.Config.Policy.ReloadInterval) })
	}
	if a.Shadow != nil {
		dir := a.Config.Policy.ShadowDir
		tasks = append(tasks, a.Shadow.Run,
			func(ctx context.Context) error { return a.ShadowPolicy.Watch(ctx, dir, a.Config.Policy.ReloadInterval) })
	}
	if a.WorkflowWatch != nil {
		tasks = append(tasks, a.WorkflowWatch.Run)
	}
	if addr := a.Config.Server.HealthListen; addr != "" {
		tasks = append(tasks, func(ctx context.Context) error { return a.Server.RunHealth(ctx, addr) })
	}
	if addr := a.Config.Server.DebugListen; addr != "" {
		tasks = append(tasks, func(ctx context.Context) error { return debugserver.Run(ctx, addr, a.log) })
	}
	if a.Rollback != nil {
		tasks = append(tasks, a.runRollback)
	}
	errc := make(chan error, len(tasks))
	for _, task := range tasks {
		go func() { errc <- task(ctx) }()
	}
	// The first to stop stops the others; all of them finish (the server
	// drains requests, the dispatcher its attempts) before Run returns and
	// the caller closes the store.
	var first error
	for range tasks {
		err := <-errc
		cancel()
		if first == nil && err != nil && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	if a.Slack != nil {
		sctx, scancel := context.WithTimeout(context.Background(), a.Config.Server.ShutdownTimeout)
		if err := a.Slack.Shutdown(sctx); err != nil {
			a.log.Warn("slack work still running at shutdown", "err", err)
		}
		scancel()
	}
	return first
}

// rollbacks is the rollback engine as the server sees it, nil when off.
func rollbacks(e *rollback.Engine) server.Rollbacks {
	if e == nil {
		return nil
	}
	return e
}

// inputCodec records decisions' policy inputs, nil when they are not kept.
func inputCodec(record bool) *replay.Codec {
	if !record {
		return nil
	}
	return &replay.Codec{}
}

// observer is the shadow, nil without one.
func observer(s *replay.Shadow) gate.Observer {
	if s == nil {
		return nil
	}
	return s
}

// candidate is the shadow policy, nil without one.
func candidate(e *policy.Engine) replay.Candidate {
	if e == nil {
		return nil
	}
	return e
}

// promotions is promotion from track record, nil when it is off.
func promotions(p *promotion.Service) server.Promotions {
	if p == nil {
		return nil
	}
	return p
}

// interactions is the Slack interactivity handler, nil without Slack.
func interactions(n *slackui.Notifier) http.Handler {
	if n == nil {
		return nil
	}
	return n
}

// Close waits for the server's background work (rollbacks requests
// started), exports the spans still buffered, then releases the store.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.Config.Server.ShutdownTimeout)
	defer cancel()
	a.Server.Drain(ctx)
	a.evalWorkers.Close()
	if err := a.Tracing.Shutdown(ctx); err != nil {
		a.log.Warn("traces not exported at shutdown", "err", err)
	}
	return a.Store.Close()
}

func instanceID(cfg config.Config) string {
	if cfg.Server.InstanceID != "" {
		return cfg.Server.InstanceID
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
