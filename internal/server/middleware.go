package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/internal/apperr"
)

const (
	headerRequestID = "X-Request-Id"
	ctxRequestID    = "agentgate.request_id"
)

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// withRequestID honours a sane incoming X-Request-Id or makes one.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(headerRequestID)
		if id == "" || len(id) > 128 {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Header(headerRequestID, id)
		c.Next()
	}
}

// withRecovery turns a panic into a logged 500.
func (s *Server) withRecovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				s.log.ErrorContext(c.Request.Context(), "panic in handler", "panic", r, "route", c.FullPath(), "request_id", requestID(c))
				s.fail(c, apperr.New(apperr.KindInternal, "internal error"))
			}
		}()
		c.Next()
	}
}

// withAccessLog logs each request and observes its duration.
func (s *Server) withAccessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		code := c.Writer.Status()
		if s.metrics != nil {
			s.metrics.HTTPRequests.WithLabelValues(route, c.Request.Method, strconv.Itoa(code)).Observe(took.Seconds())
		}
		level := slog.LevelDebug
		if code >= 500 {
			level = slog.LevelWarn
		}
		if !s.log.Enabled(c.Request.Context(), level) {
			// Not built at all: the line is off in production (debug).
			return
		}
		attrs := []any{"method", c.Request.Method, "route", route, "status", code, "took", took, "request_id", requestID(c)}
		if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsSampled() {
			attrs = append(attrs, "trace_id", sc.TraceID().String())
		}
		s.log.Log(c.Request.Context(), level, "http request", attrs...)
	}
}

// withBodyLimit caps request bodies: a declared Content-Length over the cap
// is refused at once, anything else is cut off while reading.
func (s *Server) withBodyLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > s.maxBody {
			s.fail(c, apperr.New(apperr.KindTooLarge, "request body exceeds %d bytes", s.maxBody))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.maxBody)
		c.Next()
	}
}

// withTimeout bounds the work a request may do.
func (s *Server) withTimeout() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), s.requestTimeout)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
