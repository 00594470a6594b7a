package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
)

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz fails until the store answers and a policy set is loaded; it
// also reports a rejected policy reload (the last good set still serves,
// so the replica stays ready, but the body says so).
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	body := gin.H{}
	ready := true
	if err := s.store.Ping(ctx); err != nil {
		ready = false
		body["store"] = "unreachable"
		s.log.Warn("readiness: store unreachable", "err", err)
	} else {
		body["store"] = "ok"
	}
	if s.policyStatus == nil {
		ready = false
		body["policy"] = "not loaded"
	} else {
		st := s.policyStatus()
		body["policy"] = st
		ready = ready && st.Ready
	}
	if !ready {
		body["status"] = "not ready"
		c.JSON(http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ready"
	c.JSON(http.StatusOK, body)
}

func notFoundRoute(c *gin.Context) error {
	return apperr.NotFound("no route %s %s", c.Request.Method, c.Request.URL.Path)
}

// Health listener.
//
// server.health_listen serves /healthz, /readyz and /metrics on a second,
// plain HTTP listener. The main listener accepts at most
// server.max_connections at once; at that bound a new connection waits in
// the listen backlog behind the others, and a kubelet probe waiting there
// longer than its timeout fails (three in a row restart the pod). The
// health listener has no such bound: a probe or a scrape is answered at
// once however busy the main listener is.

// healthHandler serves the probes and the metrics.
func (s *Server) healthHandler() http.Handler {
	r := gin.New()
	r.Use(s.withRecovery())
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler())
	return r
}

// RunHealth serves the probes and the metrics on addr until ctx ends.
func (s *Server) RunHealth(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("health listener on %s: %w", addr, err)
	}
	return s.ServeHealth(ctx, ln)
}

// ServeHealth serves the probes and the metrics on ln until ctx ends.
func (s *Server) ServeHealth(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.healthHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	})
	defer stop()
	s.log.Info("serving probes and metrics", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health listener: %w", err)
	}
	return nil
}
