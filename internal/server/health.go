package server

import (
	"context"
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
