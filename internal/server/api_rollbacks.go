package server

import (
	"context"
	"crypto/subtle"
	"errors"
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
	ResolveAlerts(ctx context.Context, targets []rollback.Target) error
	Watches(ctx context.Context, live bool, limit int) ([]rollback.Watch, error)
	Rollbacks(ctx context.Context, limit int) ([]rollback.Rollback, error)
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

// listRollbacks lists the rollbacks, newest first, in every state;
// ?limit= bounds the list (default 100, at most 1000).
func (s *Server) listRollbacks(c *gin.Context) {
	if s.rollbacksOff(c) {
		return
	}
	limit, err := intParam(c, "limit", 100, 1000)
	if err != nil {
		s.fail(c, err)
		return
	}
	rbs, err := s.rollbacks.Rollbacks(c.Request.Context(), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	if rbs == nil {
		rbs = []rollback.Rollback{}
	}
	c.JSON(http.StatusOK, gin.H{"items": rbs})
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

// runRollback carries a rollback out after the answer, as background work
// of the server (awaited at shutdown); its outcome is audited by the
// engine's OnRollback. A rollback cut short stays running in the store.
func (s *Server) runRollback(id string) {
	s.bg.Go(func(ctx context.Context) {
		if _, err := s.rollbacks.Run(ctx, id); err != nil {
			s.log.Error("rollback failed", "rollback_id", id, "err", err)
		}
	})
}

// listWatches lists the rollback watches: live ones by default, every kept
// one with ?all=true; ?limit= bounds the list (default 100, at most 1000).
func (s *Server) listWatches(c *gin.Context) {
	if s.rollbacksOff(c) {
		return
	}
	limit, err := intParam(c, "limit", 100, 1000)
	if err != nil {
		s.fail(c, err)
		return
	}
	all := c.Query("all")
	if all != "" && all != "true" && all != "false" {
		s.fail(c, apperr.Invalid("all must be true or false, got %q", all))
		return
	}
	ws, err := s.rollbacks.Watches(c.Request.Context(), all != "true", limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]rollback.WatchStatus, 0, len(ws))
	for _, w := range ws {
		items = append(items, rollback.StatusOf(w))
	}
	s.nameAgents(c.Request.Context(), items)
	c.JSON(http.StatusOK, gin.H{"items": items})
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
	if rerr := s.rollbacks.ResolveAlerts(c.Request.Context(), rollback.Resolved(hook)); rerr != nil {
		herr = errors.Join(herr, rerr)
	}
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
