package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/authzen"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/console"
	"github.com/agentgate/agentgate/internal/enforce"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/replay"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// Options wires the server's dependencies.
type Options struct {
	Config    config.Server
	Logger    *slog.Logger
	Store     Store
	Gate      *gate.Gate
	Registry  *registry.Service
	Approvals *approval.Service
	// Dispatch runs providers' enforcement after a webhook is answered.
	Dispatch *enforce.Dispatcher
	// Interactions, when set, serves POST /slack/interactions (it verifies
	// Slack's signature itself).
	Interactions http.Handler
	// Rollbacks serves /api/v1/rollbacks and POST /webhooks/alertmanager;
	// nil answers 503 (rollback not configured).
	Rollbacks Rollbacks
	// AlertmanagerToken authenticates POST /webhooks/alertmanager.
	AlertmanagerToken string
	Providers         *providers.Registry
	// Tokens are the static API tokens (configured and bootstrap).
	Tokens []StaticToken
	// PolicyStatus reports the policy set for /readyz.
	PolicyStatus func() policy.Status
	Metrics      *telemetry.Metrics
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Tracing traces requests and their stages; nil: no traces.
	Tracing *telemetry.Tracing
	// ConsoleKey, when set, serves the web console at /ui with sessions
	// signed by it (at least 32 bytes); ConsoleTTL is a session's life.
	ConsoleKey []byte
	ConsoleTTL time.Duration
	// ConsoleOIDC, when set, offers single sign-on on the console.
	ConsoleOIDC *console.OIDC
	// Promotions serves /api/v1/promotions and an agent's record; nil
	// answers 503 (promotion.mode off).
	Promotions Promotions
	// Shadow is the shadow policy for GET /api/v1/policy/shadow; nil
	// answers 503 (no policy.shadow_dir).
	Shadow replay.Candidate
}

// Server is the HTTP server.
type Server struct {
	console        *console.Console
	cfg            config.Server
	log            *slog.Logger
	store          Store
	gate           *gate.Gate
	authzen        *authzen.Service
	registry       *registry.Service
	approvals      *approval.Service
	dispatch       *enforce.Dispatcher
	rollbacks      Rollbacks
	promotions     Promotions
	shadow         replay.Candidate
	inputs         replay.Codec
	alertToken     string
	providers      *providers.Registry
	tokens         []StaticToken
	policyStatus   func() policy.Status
	metrics        *telemetry.Metrics
	gatherer       prometheus.Gatherer
	maxBody        int64
	requestTimeout time.Duration
	engine         *gin.Engine
	// conns counts open connections against server.max_connections.
	conns      *connTracker
	bg         *background
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// New builds the server and its routes.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{
		cfg: o.Config, log: o.Logger, store: o.Store, gate: o.Gate, registry: o.Registry,
		approvals: o.Approvals, dispatch: o.Dispatch, rollbacks: o.Rollbacks, promotions: o.Promotions, shadow: o.Shadow, alertToken: o.AlertmanagerToken,
		providers: o.Providers, tokens: o.Tokens, policyStatus: o.PolicyStatus, metrics: o.Metrics,
		gatherer: o.Gatherer, maxBody: o.Config.MaxBodyBytes, requestTimeout: o.Config.RequestTimeout,
		bg: newBackground(), tracer: o.Tracing.Tracer(), propagator: propagation.TraceContext{},
	}
	if o.Gate != nil && o.Registry != nil {
		s.authzen = authzen.New(o.Gate, o.Registry)
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.requestTimeout <= 0 {
		s.requestTimeout = 20 * time.Second
	}
	var open prometheus.Gauge
	if o.Metrics != nil {
		open = o.Metrics.HTTPConnectionsOpen
	}
	s.conns = newConnTracker(o.Config.MaxConnections, open)
	s.engine = s.routes(o)
	return s
}

// Handler returns the HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) routes(o Options) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.conns.closeAtTheBound, withRequestID(), s.withTracing(), s.withRecovery(), s.withAccessLog())
	r.NoRoute(func(c *gin.Context) { s.fail(c, notFoundRoute(c)) })
	r.NoMethod(func(c *gin.Context) {
		apperr.WriteBody(c.Writer, http.StatusMethodNotAllowed, apperr.Body{Error: apperr.Detail{Code: "method_not_allowed", Message: c.Request.Method + " is not allowed here", RequestID: requestID(c)}})
		c.Abort()
	})

	if len(o.ConsoleKey) > 0 {
		co := console.Options{Logger: s.log, Authenticate: s.consolePerson, Agents: s.registry, KillSwitches: consoleKills{s}, Approvals: consoleApprovals{s}, Audit: s.store, Actions: consoleActions{s}, Usage: s.store,
			Key: o.ConsoleKey, TTL: o.ConsoleTTL, Secure: o.Config.TLSCertFile != "", OIDC: o.ConsoleOIDC}
		if s.rollbacks != nil {
			co.Rollbacks = consoleRollbacks{s}
		}
		if s.promotions != nil {
			co.Promotions = consolePromotions{s}
		}
		c, err := console.New(co)
		if err != nil {
			s.log.Error("web console not served", "err", err)
		} else {
			s.console = c
			h := gin.WrapH(c)
			r.GET("/ui", func(ctx *gin.Context) { ctx.Redirect(http.StatusSeeOther, "/ui/") })
			r.Any("/ui/*path", h)
		}
	}
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler())

	r.POST("/webhooks/alertmanager", s.withBodyLimit(), s.withTimeout(), s.alertmanager)
	r.POST("/webhooks/:provider", s.withBodyLimit(), s.withTimeout(), s.webhook)
	s.mountSyncGates(r)
	s.mountAdmitters(r)
	if o.Interactions != nil {
		r.POST("/slack/interactions", s.withBodyLimit(), s.withTimeout(), gin.WrapH(o.Interactions))
	}

	// Streaming reads of the whole audit log are not bounded by the
	// per-request timeout; they stop when the client goes away.
	stream := r.Group("/api/v1", s.authenticate())
	stream.GET("/audit/verify", s.require(config.RoleViewer), s.verifyAudit)
	stream.GET("/audit/export", s.require(config.RoleViewer), s.exportAudit)
	stream.GET("/policy/inputs", s.require(config.RoleViewer), s.exportInputs)
	stream.GET("/policy/shadow", s.require(config.RoleViewer), s.shadowReport)

	api := r.Group("/api/v1", s.withBodyLimit(), s.withTimeout(), s.authenticate())
	viewer, operator, admin := s.require(config.RoleViewer), s.require(config.RoleOperator), s.require(config.RoleAdmin)
	api.GET("/me", s.require(config.RoleAgent), s.me)

	api.GET("/agents", viewer, s.listAgents)
	api.POST("/agents", admin, s.createAgent)
	api.POST("/agents/apply", admin, s.applyAgents)
	api.GET("/agents/:id", viewer, s.getAgent)
	api.PATCH("/agents/:id", admin, s.updateAgent)
	api.POST("/agents/:id/promote", admin, s.tierChange(+1))
	api.POST("/agents/:id/demote", admin, s.tierChange(-1))
	api.POST("/agents/:id/suspend", operator, s.suspendAgent)
	api.POST("/agents/:id/resume", operator, s.resumeAgent)
	api.POST("/agents/:id/kill", operator, s.killAgent)
	api.POST("/agents/:id/decommission", admin, s.decommissionAgent)
	api.POST("/agents/:id/rotate", admin, s.rotateToken)
	api.GET("/agents/:id/record", viewer, s.getAgentRecord)

	api.GET("/promotions", viewer, s.listPromotions)
	api.POST("/promotions/:id/confirm", operator, s.decidePromotion(true))
	api.POST("/promotions/:id/refuse", operator, s.decidePromotion(false))

	api.GET("/killswitches", viewer, s.listKillSwitches)
	api.POST("/killswitches", operator, s.engageKillSwitch)
	api.GET("/killswitches/:id", viewer, s.getKillSwitch)
	api.DELETE("/killswitches/:id", operator, s.releaseKillSwitch)

	api.GET("/approvals", viewer, s.listApprovals)
	api.GET("/approvals/:id", viewer, s.getApproval)
	api.POST("/approvals/:id/approve", viewer, s.resolveApproval(true))
	api.POST("/approvals/:id/reject", viewer, s.resolveApproval(false))

	api.GET("/audit", viewer, s.queryAudit)

	api.GET("/costs", viewer, s.costs)
	api.GET("/deployments", viewer, s.listDeployments)
	api.POST("/rollbacks", operator, s.createRollback)
	api.GET("/rollbacks", viewer, s.listRollbacks)
	api.GET("/rollbacks/:id", viewer, s.getRollback)
	api.GET("/rollback/watches", viewer, s.listWatches)
	api.POST("/evaluate", viewer, s.evaluate)

	// OpenID AuthZEN 1.0: an API or MCP gateway asks whether an agent may
	// act. Decided (charged, audited) like a webhook, so operator.
	access := r.Group("/access/v1", s.withBodyLimit(), s.withTimeout(), s.authenticate(), operator)
	access.POST("/evaluation", s.authzenEvaluation)
	access.POST("/evaluations", s.authzenEvaluations)
	r.GET("/.well-known/authzen-configuration", s.authzenMetadata)
	return r
}

// metricsHandler serves the gatherer's metrics. A collector that fails
// (the kill switch gauge with the store down) must not take the other
// metrics with it.
func (s *Server) metricsHandler() gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
}

// Run serves on the configured address until ctx ends, then shuts down
// gracefully within the shutdown timeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	ln = limitConnections(ln, s.cfg.MaxConnections)
	srv.ConnState = s.conns.state
	if s.metrics != nil {
		s.metrics.HTTPConnectionsMax.Set(float64(s.cfg.MaxConnections))
	}
	if s.cfg.TLSCertFile != "" {
		certs, err := newCertReloader(s.cfg.TLSCertFile, s.cfg.TLSKeyFile, s.log)
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate})
	}
	if s.console != nil {
		srv.RegisterOnShutdown(s.console.Shutdown)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", s.cfg.TLSCertFile != "")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.Drain(sctx)
		return fmt.Errorf("shutdown: %w", err)
	}
	s.Drain(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
