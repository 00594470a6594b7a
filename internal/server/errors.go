package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
)

// statusOf maps an error kind to its HTTP status. This is the only place
// that knows the mapping.
func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.KindInvalid:
		return http.StatusBadRequest
	case apperr.KindUnauthenticated:
		return http.StatusUnauthorized
	case apperr.KindForbidden:
		return http.StatusForbidden
	case apperr.KindNotFound:
		return http.StatusNotFound
	case apperr.KindConflict:
		return http.StatusConflict
	case apperr.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

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
	kind := apperr.KindOf(err)
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
