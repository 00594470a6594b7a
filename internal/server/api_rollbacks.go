package server

import (
	"context"
	"crypto/subtle"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/rollback"
)

// Rollbacks is the rollback engine as the API uses it.
type Rollbacks interface {
	Request(ctx context.Context, req rollback.Request) (rollback.Rollback, bool, error)
	Run(ctx context.Context, id string) (rollback.Rollback, error)
	Get(ctx context.Context, id string) (rollback.Rollback, error)
	HandleAlerts(ctx context.Context, targets []rollback.Target) ([]rollback.Rollback, error)
}

var _ Rollbacks = (*rollback.Engine)(nil)

// rollbackRequest is the body of POST /api/v1/rollbacks.
type rollbackRequest struct {
	Provider    string `json:"provider"`
	Repo        string `json:"repo"`
	App         string `json:"app"`
	Environment string `json:"environment"`
	Namespace   string `json:"namespace"`
	// To is "previous" (default) or a commit sha of an earlier deployment.
	To     string `json:"to"`
	Reason string `json:"reason"`
}

func (s *Server) rollbacksOff(c *gin.Context) bool {
	if s.rollbacks == nil {
		s.fail(c, apperr.New(apperr.KindUnavailable, "rollback is not configured (rollback.prometheus_url)"))
		return true
	}
	return false
}

// createRollback starts a rollback of a target: 202 with the new rollback,
// or 200 with the one already in progress for the same target.
func (s *Server) createRollback(c *gin.Context) {
	if s.rollbacksOff(c) {
		return
	}
	var r rollbackRequest
	if err := decodeJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	if strings.TrimSpace(r.Reason) == "" {
		s.fail(c, apperr.Invalid("reason is required"))
		return
	}
	t := rollback.Target{Provider: r.Provider, Repo: r.Repo, App: r.App, Environment: r.Environment, Namespace: r.Namespace,
		Action: rollback.ActionRollback, Source: rollback.SourceRequest, Reason: r.Reason}
	rb, created, err := s.rollbacks.Request(c.Request.Context(), rollback.Request{Target: t, To: r.To, Reason: r.Reason, RequestedBy: callerOf(c).Name})
	if err != nil {
		s.fail(c, err)
		return
	}
	if !created {
		c.JSON(http.StatusOK, rb)
		return
	}
	s.runRollback(rb.ID)
	c.Header("Location", "/api/v1/rollbacks/"+rb.ID)
	c.JSON(http.StatusAccepted, rb)
}

func (s *Server) getRollback(c *gin.Context) {
	if s.rollbacksOff(c) {
		return
	}
	rb, err := s.rollbacks.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rb)
}

// runRollback carries a rollback out after the answer; its outcome is
// audited by the engine's OnRollback.
func (s *Server) runRollback(id string) {
	go func() {
		if _, err := s.rollbacks.Run(context.Background(), id); err != nil {
			s.log.Error("rollback failed", "rollback_id", id, "err", err)
		}
	}()
}

// alertmanager takes Alertmanager's webhook (bearer token): firing alerts
// labelled agentgate_* roll back the latest agent deploy of their target.
func (s *Server) alertmanager(c *gin.Context) {
	raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || s.alertToken == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(raw)), []byte(s.alertToken)) != 1 {
		s.fail(c, apperr.New(apperr.KindUnauthenticated, "missing or wrong bearer token (rollback.alertmanager_token)"))
		return
	}
	if s.rollbacksOff(c) {
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, apperr.FromBodyRead(err))
		return
	}
	hook, err := rollback.ParseWebhook(body)
	if err != nil {
		s.fail(c, apperr.Invalid("%v", err))
		return
	}
	// A malformed alert does not hold back the well-formed ones beside it;
	// every problem is reported in the answer and logged.
	targets, terr := rollback.Targets(hook)
	if terr != nil && len(targets) == 0 {
		s.fail(c, apperr.Invalid("%v", terr))
		return
	}
	rbs, herr := s.rollbacks.HandleAlerts(c.Request.Context(), targets)
	for _, rb := range rbs {
		if rb.State == rollback.RollbackPending {
			s.runRollback(rb.ID)
		}
	}
	ans := alertAnswer{Items: rbs}
	for _, err := range []error{terr, herr} {
		if err != nil {
			s.log.WarnContext(c.Request.Context(), "alertmanager: some alerts were not acted on", "err", err)
			ans.Problems = append(ans.Problems, strings.Split(err.Error(), "\n")...)
		}
	}
	if ans.Items == nil {
		ans.Items = []rollback.Rollback{}
	}
	c.JSON(http.StatusOK, ans)
}

// alertAnswer is the answer to Alertmanager: the rollbacks the alerts
// started (or that were already in progress), and the alerts not acted on.
type alertAnswer struct {
	Items    []rollback.Rollback `json:"items"`
	Problems []string            `json:"problems,omitempty"`
}
