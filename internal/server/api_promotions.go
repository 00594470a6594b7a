package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/promotion"
	"github.com/agentgate/agentgate/internal/store"
)

// Promotions is promotion from track record; nil answers 503 (promotion.mode
// off). promotion.Service is one.
type Promotions interface {
	Assess(ctx context.Context, a agents.Agent) (policy.TrackRecord, policy.Assessment, error)
	Confirm(ctx context.Context, who promotion.Person, id, note string) (store.Proposal, error)
	Refuse(ctx context.Context, who promotion.Person, id, reason string) (store.Proposal, error)
	Pending(ctx context.Context, agentID string) (*store.Proposal, error)
	Mode() promotion.Mode
}

var _ Promotions = (*promotion.Service)(nil)

// agentRecord is GET /api/v1/agents/{id}/record.
type agentRecord struct {
	Agent      agents.Agent       `json:"agent"`
	Mode       promotion.Mode     `json:"mode"`
	Record     policy.TrackRecord `json:"record"`
	Assessment *policy.Assessment `json:"assessment,omitempty"`
	// AssessmentError says why there is no assessment (a policy set
	// without promotion rules).
	AssessmentError string          `json:"assessment_error,omitempty"`
	Pending         *store.Proposal `json:"pending,omitempty"`
}

func (s *Server) promotionsOff(c *gin.Context) bool {
	if s.promotions == nil {
		s.fail(c, apperr.New(apperr.KindUnavailable, "promotion from track record is off (promotion.mode)"))
		return true
	}
	return false
}

// getAgentRecord shows an agent's track record as the promotion job sees
// it, what the policy says of it now, and its pending proposal.
func (s *Server) getAgentRecord(c *gin.Context) {
	if s.promotionsOff(c) {
		return
	}
	ctx := c.Request.Context()
	a, err := s.registry.Get(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	r, as, err := s.promotions.Assess(ctx, a)
	out := agentRecord{Agent: a, Mode: s.promotions.Mode(), Record: r}
	switch {
	case err == nil:
		out.Assessment = &as
	case r.Days > 0:
		// The record was read; the policy could not assess it.
		out.AssessmentError = err.Error()
	default:
		s.fail(c, err)
		return
	}
	if out.Pending, err = s.promotions.Pending(ctx, a.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// listPromotions lists proposals, newest first: ?state=, ?agent= (name
// or id), ?limit= (default 100, at most 1000).
func (s *Server) listPromotions(c *gin.Context) {
	ctx := c.Request.Context()
	limit, err := intParam(c, "limit", 100, 1000)
	if err != nil {
		s.fail(c, err)
		return
	}
	f := store.ProposalFilter{State: store.ProposalState(c.Query("state")), Limit: limit}
	switch f.State {
	case "", store.ProposalPending, store.ProposalApplied, store.ProposalRefused, store.ProposalWithdrawn:
	default:
		s.fail(c, apperr.Invalid("state must be pending, applied, refused or withdrawn, got %q", f.State))
		return
	}
	if name := c.Query("agent"); name != "" {
		a, err := s.registry.Get(ctx, name)
		if err != nil {
			s.fail(c, err)
			return
		}
		f.AgentID = a.ID
	}
	list, err := s.store.ListProposals(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []store.Proposal{}
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

// decidePromotion is POST /api/v1/promotions/{id}/confirm and /refuse:
// body {"note"} or {"reason"}; the service decides who may.
func (s *Server) decidePromotion(confirm bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.promotionsOff(c) {
			return
		}
		var body struct {
			Note   string `json:"note"`
			Reason string `json:"reason"`
		}
		if c.Request.ContentLength != 0 {
			if err := decodeJSON(c, &body); err != nil {
				s.fail(c, err)
				return
			}
		}
		caller := callerOf(c)
		who := promotion.Person{Name: caller.Name, Role: caller.Role, Agent: caller.Agent != nil}
		var p store.Proposal
		var err error
		if confirm {
			note := body.Note
			if note == "" {
				note = body.Reason
			}
			p, err = s.promotions.Confirm(c.Request.Context(), who, c.Param("id"), note)
		} else {
			reason := body.Reason
			if reason == "" {
				reason = body.Note
			}
			p, err = s.promotions.Refuse(c.Request.Context(), who, c.Param("id"), reason)
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, p)
	}
}
