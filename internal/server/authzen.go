package server

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/authzen"
)

// authzenEvaluation is POST /access/v1/evaluation: one OpenID AuthZEN
// access evaluation, decided by the gate. The answer echoes X-Request-ID.
func (s *Server) authzenEvaluation(c *gin.Context) {
	body, ok := s.authzenBody(c)
	if !ok {
		return
	}
	e, err := authzen.DecodeEvaluation(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.authzen.Evaluate(c.Request.Context(), s.authzenCall(c), e)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// authzenEvaluations is POST /access/v1/evaluations: a batch with default
// values and an evaluations semantic.
func (s *Server) authzenEvaluations(c *gin.Context) {
	body, ok := s.authzenBody(c)
	if !ok {
		return
	}
	list, semantic, err := authzen.DecodeBatch(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.authzen.EvaluateAll(c.Request.Context(), s.authzenCall(c), list, semantic)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) authzenCall(c *gin.Context) authzen.Call {
	id := c.GetHeader("X-Request-ID")
	if len(id) > 200 {
		id = ""
	}
	return authzen.Call{Actor: callerOf(c).Name, RequestID: id}
}

// authzenMetadata is GET /.well-known/authzen-configuration: the PDP
// metadata, with the issuer this request reached.
func (s *Server) authzenMetadata(c *gin.Context) {
	scheme := "http"
	if c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	issuer := scheme + "://" + c.Request.Host
	c.JSON(http.StatusOK, authzen.Metadata{Issuer: issuer,
		AccessEvaluationEndpoint: issuer + "/access/v1/evaluation", AccessEvaluationsEndpoint: issuer + "/access/v1/evaluations"})
}

// authzenBody echoes X-Request-ID and reads the request body; false when
// it answered already.
func (s *Server) authzenBody(c *gin.Context) ([]byte, bool) {
	c.Header("X-Request-ID", c.GetHeader("X-Request-ID"))
	if s.authzen == nil {
		s.fail(c, apperr.New(apperr.KindUnavailable, "this server has no gate to decide access evaluations"))
		return nil, false
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, apperr.FromBodyRead(err))
		return nil, false
	}
	return body, true
}
