package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
)

// statusOf maps an error kind to its HTTP status. This is the only place
// that knows the mapping.
func statusOf(k apperr.Kind) int { return apperr.HTTPStatus(k) }

// retryAfterUnavailable is the Retry-After (seconds) of a 503.
const retryAfterUnavailable = "10"

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// fail answers with {"error":{"code","message"}} and aborts the chain.
// Internal errors are logged with the request id and never shown.
func (s *Server) fail(c *gin.Context, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = apperr.New(apperr.KindTooLarge, "request body exceeds %d bytes", mbe.Limit)
	}
	if apperr.KindOf(err) == apperr.KindInternal && s.store != nil && s.store.Unavailable(err) {
		err = apperr.Wrap(apperr.KindUnavailable, err, "store unavailable")
	}
	kind := apperr.KindOf(err)
	if kind == apperr.KindUnavailable {
		// Nothing was done; the same request may succeed shortly.
		c.Header("Retry-After", retryAfterUnavailable)
	}
	if kind == apperr.KindTimeout {
		s.log.InfoContext(c.Request.Context(), "request body timed out", "route", c.FullPath(), "remote", c.ClientIP(), "request_id", requestID(c))
	}
	status := statusOf(kind)
	if status >= 500 {
		s.log.ErrorContext(c.Request.Context(), "request failed", "err", err, "route", c.FullPath(), "request_id", requestID(c))
	}
	if kind == apperr.KindUnauthenticated {
		c.Header("WWW-Authenticate", `Bearer realm="agentgate"`)
	}
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{
		Code: string(kind), Message: apperr.PublicMessage(err), RequestID: requestID(c),
	}})
}
