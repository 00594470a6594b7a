package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
)

// statusOf maps an error kind to its HTTP status. This is the only place
// that knows the mapping.
func statusOf(k apperr.Kind) int { return apperr.HTTPStatus(k) }

// fail answers with {"error":{"code","message"}} and aborts the chain.
// Internal errors are logged with the request id and never shown.
func (s *Server) fail(c *gin.Context, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = apperr.New(apperr.KindTooLarge, "request body exceeds %d bytes", mbe.Limit)
	}
	if apperr.KindOf(err) == apperr.KindInternal && errors.Is(c.Request.Context().Err(), context.Canceled) {
		// The client went away (a sender's own timeout) and the work
		// failed with it (drivers do not all wrap context.Canceled): what
		// was under way was rolled back or never began.
		err = apperr.Wrap(apperr.KindCanceled, err, "the client closed the request before it completed")
	}
	if apperr.KindOf(err) == apperr.KindInternal && s.store != nil && s.store.Unavailable(err) {
		err = apperr.Wrap(apperr.KindUnavailable, err, "store unavailable")
	}
	kind := apperr.KindOf(err)
	switch kind {
	case apperr.KindTimeout:
		s.log.InfoContext(c.Request.Context(), "request body timed out", "route", c.FullPath(), "remote", c.ClientIP(), "request_id", requestID(c))
	case apperr.KindCanceled:
		s.log.InfoContext(c.Request.Context(), "client closed the request before the answer", "route", c.FullPath(), "remote", c.ClientIP(), "request_id", requestID(c))
	}
	if statusOf(kind) >= 500 {
		s.log.ErrorContext(c.Request.Context(), "request failed", "err", err, "route", c.FullPath(), "request_id", requestID(c))
	}
	apperr.WriteHTTP(c.Writer, err, requestID(c))
	c.Abort()
}
