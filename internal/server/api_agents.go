package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

type listResponse[T any] struct {
	Items []T `json:"items"`
}

func (s *Server) listAgents(c *gin.Context) {
	f := store.AgentFilter{Owner: c.Query("owner"), Type: c.Query("type"), State: agents.State(c.Query("state")), Tier: agents.Tier(c.Query("tier"))}
	list, err := s.registry.List(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []agents.Agent{}
	}
	c.JSON(http.StatusOK, listResponse[agents.Agent]{Items: list})
}

type createAgentResponse struct {
	Agent agents.Agent `json:"agent"`
	// Token is shown once; only its hash is stored.
	Token string `json:"token"`
}

func (s *Server) createAgent(c *gin.Context) {
	var spec registry.Spec
	if err := decodeJSON(c, &spec); err != nil {
		s.fail(c, err)
		return
	}
	a, token, err := s.registry.Provision(c.Request.Context(), callerOf(c).Name, spec)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/agents/"+a.ID)
	c.JSON(http.StatusCreated, createAgentResponse{Agent: a, Token: token})
}

// applyAgents brings the registry to a declared set of agents in one
// transaction (registry.Apply): 200 with the changes, also for a dry run.
func (s *Server) applyAgents(c *gin.Context) {
	var r registry.ApplyRequest
	if err := decodeJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.registry.Apply(c.Request.Context(), callerOf(c).Name, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	if res.Changes == nil {
		res.Changes = []registry.AgentChange{}
	}
	c.JSON(http.StatusOK, res)
}

func (s *Server) getAgent(c *gin.Context) {
	a, err := s.registry.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func (s *Server) updateAgent(c *gin.Context) {
	var p registry.Patch
	if err := decodeJSON(c, &p); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.registry.Update(c.Request.Context(), callerOf(c).Name, c.Param("id"), p)
	s.answerAgent(c, a, err)
}

// reasonRequest is the body of lifecycle operations.
type reasonRequest struct {
	Reason string `json:"reason"`
}

// tierRequest is the body of promote and demote.
type tierRequest struct {
	Reason string      `json:"reason"`
	To     agents.Tier `json:"to"`
}

func (s *Server) tierChange(dir int) gin.HandlerFunc {
	return func(c *gin.Context) {
		var r tierRequest
		if err := decodeJSON(c, &r); err != nil {
			s.fail(c, err)
			return
		}
		if r.Reason == "" {
			s.fail(c, apperr.Invalid("reason is required to change an agent's tier"))
			return
		}
		op := s.registry.Promote
		if dir < 0 {
			op = s.registry.Demote
		}
		a, err := op(c.Request.Context(), callerOf(c).Name, c.Param("id"), r.To, r.Reason)
		s.answerAgent(c, a, err)
	}
}

func (s *Server) lifecycle(c *gin.Context, op func(ctx *gin.Context, actor, id, reason string) (agents.Agent, error)) {
	var r reasonRequest
	if err := optionalJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	a, err := op(c, callerOf(c).Name, c.Param("id"), r.Reason)
	s.answerAgent(c, a, err)
}

func (s *Server) suspendAgent(c *gin.Context) {
	s.lifecycle(c, func(ctx *gin.Context, actor, id, reason string) (agents.Agent, error) {
		return s.registry.Suspend(ctx.Request.Context(), actor, id, reason)
	})
}

func (s *Server) resumeAgent(c *gin.Context) {
	s.lifecycle(c, func(ctx *gin.Context, actor, id, reason string) (agents.Agent, error) {
		return s.registry.Resume(ctx.Request.Context(), actor, id, reason)
	})
}

func (s *Server) decommissionAgent(c *gin.Context) {
	s.lifecycle(c, func(ctx *gin.Context, actor, id, reason string) (agents.Agent, error) {
		return s.registry.Decommission(ctx.Request.Context(), actor, id, reason)
	})
}

func (s *Server) killAgent(c *gin.Context) {
	var r reasonRequest
	if err := decodeJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	ks, _, err := s.registry.Engage(c.Request.Context(), callerOf(c).Name, registry.KillRequest{Scope: store.ScopeAgent, Target: c.Param("id"), Reason: r.Reason})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ks)
}

func (s *Server) rotateToken(c *gin.Context) {
	rot, err := s.registry.RotateToken(c.Request.Context(), callerOf(c).Name, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rot)
}

func (s *Server) answerAgent(c *gin.Context, a agents.Agent, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}
