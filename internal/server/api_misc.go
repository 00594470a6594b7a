package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/store"
)

func (s *Server) listApprovals(c *gin.Context) {
	f := store.ApprovalFilter{State: store.ApprovalState(c.Query("state")), AgentID: c.Query("agent"), Owner: c.Query("owner")}
	list, err := s.store.ListApprovals(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []store.Approval{}
	}
	c.JSON(http.StatusOK, listResponse[store.Approval]{Items: list})
}

func (s *Server) getApproval(c *gin.Context) {
	a, err := s.store.GetApproval(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

// resolveApproval approves or rejects a held change. The route needs any
// human role; the approval's own approvers decide who may (see
// approval.Service.Resolve).
func (s *Server) resolveApproval(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var r reasonRequest
		if err := optionalJSON(c, &r); err != nil {
			s.fail(c, err)
			return
		}
		caller := callerOf(c)
		who := approval.Approver{Name: caller.Name, Role: caller.Role, Agent: caller.Agent != nil}
		a, err := s.approvals.Resolve(c.Request.Context(), who, c.Param("id"), approve, r.Reason)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, a)
	}
}

type costsResponse struct {
	By    store.CostGroup `json:"by"`
	From  time.Time       `json:"from"`
	To    time.Time       `json:"to"`
	Items []store.CostRow `json:"items"`
}

func (s *Server) costs(c *gin.Context) {
	by := store.CostGroup(c.DefaultQuery("by", string(store.CostByAgent)))
	switch by {
	case store.CostByAgent, store.CostByOwner, store.CostByType:
	default:
		s.fail(c, apperr.Invalid("by=%q: group by agent, owner or type", by))
		return
	}
	from, err := parseTime(c, "from")
	if err != nil {
		s.fail(c, err)
		return
	}
	to, err := parseTime(c, "to")
	if err != nil {
		s.fail(c, err)
		return
	}
	if to.IsZero() {
		to = time.Now().UTC()
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	if !from.Before(to) {
		s.fail(c, apperr.Invalid("from must be before to"))
		return
	}
	rows, err := s.store.SumCosts(c.Request.Context(), by, from, to)
	if err != nil {
		s.fail(c, err)
		return
	}
	if rows == nil {
		rows = []store.CostRow{}
	}
	c.JSON(http.StatusOK, costsResponse{By: by, From: from, To: to, Items: rows})
}

// evaluateRequest is a normalized event, or a raw provider payload with
// its headers (parsed by that provider; signatures are not checked).
type evaluateRequest struct {
	Event    *event.Event      `json:"event"`
	Provider string            `json:"provider"`
	Headers  map[string]string `json:"headers"`
	Payload  json.RawMessage   `json:"payload"`
}

type evaluateResponse struct {
	Event  event.Event `json:"event"`
	Result gate.Result `json:"result"`
}

func (s *Server) evaluate(c *gin.Context) {
	var r evaluateRequest
	if err := decodeJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	var events []event.Event
	switch {
	case r.Event != nil && r.Provider == "":
		if r.Event.Provider == "" {
			r.Event.Provider = "generic"
		}
		events = []event.Event{*r.Event}
	case r.Event == nil && r.Provider != "":
		p, ok := s.providers.Get(r.Provider)
		if !ok {
			s.fail(c, apperr.Invalid("provider %q is not one of %v", r.Provider, s.providers.Names()))
			return
		}
		h := http.Header{}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		d, err := p.Parse(h, r.Payload)
		if err != nil {
			s.fail(c, err)
			return
		}
		for i := range d.Events {
			s.resolve(c.Request.Context(), r.Provider, p, &d.Events[i])
		}
		events = d.Events
	default:
		s.fail(c, apperr.Invalid("give either event (a normalized event) or provider with headers and payload"))
		return
	}
	out := make([]evaluateResponse, 0, len(events))
	for _, ev := range events {
		res, err := s.gate.Evaluate(c.Request.Context(), gate.Request{Event: ev, Actor: callerOf(c).Name})
		if err != nil {
			s.fail(c, err)
			return
		}
		out = append(out, evaluateResponse{Event: ev, Result: res})
	}
	c.JSON(http.StatusOK, listResponse[evaluateResponse]{Items: out})
}

type meResponse struct {
	Agent      agents.Agent       `json:"agent"`
	Quotas     []store.QuotaUsage `json:"quotas"`
	KillSwitch *store.KillSwitch  `json:"kill_switch,omitempty"`
}

// me lets an agent read its own state and quota usage with its own token.
func (s *Server) me(c *gin.Context) {
	caller := callerOf(c)
	if caller.Agent == nil {
		s.fail(c, apperr.Forbidden("/api/v1/me is for agent tokens; %s is not an agent", caller.Name))
		return
	}
	ctx := c.Request.Context()
	a := *caller.Agent
	usage, err := s.store.QuotaUsage(ctx, a.ID, time.Now())
	if err != nil {
		s.fail(c, err)
		return
	}
	if usage == nil {
		usage = []store.QuotaUsage{}
	}
	resp := meResponse{Agent: a, Quotas: usage}
	ks, err := s.store.MatchKillSwitch(ctx, a.ID, a.Owner)
	switch {
	case err == nil:
		resp.KillSwitch = &ks
	case apperr.KindOf(err) != apperr.KindNotFound:
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

// listDeployments returns one target's deployment history, newest first.
func (s *Server) listDeployments(c *gin.Context) {
	f := store.DeploymentFilter{Provider: c.Query("provider"), Repo: c.Query("repo"), Environment: c.Query("environment")}
	if f.Provider == "" || f.Repo == "" || f.Environment == "" {
		s.fail(c, apperr.Invalid("provider, repo and environment are required query parameters"))
		return
	}
	limit, err := intParam(c, "limit", 0, 500)
	if err != nil {
		s.fail(c, err)
		return
	}
	f.Limit = limit
	list, err := s.store.ListDeployments(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []store.Deployment{}
	}
	c.JSON(http.StatusOK, listResponse[store.Deployment]{Items: list})
}
