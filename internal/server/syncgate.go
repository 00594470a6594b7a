package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// Synchronous gate answer statuses.
const (
	gateAllowed = "allowed"
	gateDenied  = "denied"
	gatePending = "pending"
)

// gateAnswer is the body of POST /<provider>/gate and its polls.
type gateAnswer struct {
	// Status is allowed (200), denied (403) or pending (202).
	Status   string          `json:"status"`
	Message  string          `json:"message,omitempty"`
	Decision *gate.Result    `json:"decision,omitempty"`
	Approval *store.Approval `json:"approval,omitempty"`
	// Poll is where to ask again while pending.
	Poll string `json:"poll,omitempty"`
}

// mountSyncGates adds POST /<name>/gate and GET /<name>/gate/:id for every
// provider whose CI jobs ask and wait (providers.SyncGate).
func (s *Server) mountSyncGates(r *gin.Engine) {
	for _, name := range s.providers.Names() {
		p, _ := s.providers.Get(name)
		g, ok := p.(providers.SyncGate)
		if !ok {
			continue
		}
		paths := []string{"/" + name + "/gate"}
		if al, ok := p.(providers.GateAliases); ok {
			paths = append(paths, al.GateAliases()...)
		}
		for _, path := range paths {
			grp := r.Group(path, s.withBodyLimit(), s.withTimeout())
			grp.POST("", s.syncGate(name, g))
			grp.GET("/:id", s.syncGatePoll(name, g))
		}
	}
}

// mountAdmitters mounts providers that answer in their own protocol (the
// Kubernetes AdmissionReview). Their handlers cap bodies themselves: an
// UPDATE review carries the object twice and outgrows the webhook cap.
func (s *Server) mountAdmitters(r *gin.Engine) {
	for _, name := range s.providers.Names() {
		p, _ := s.providers.Get(name)
		ad, ok := p.(providers.Admitter)
		if !ok {
			continue
		}
		decide := func(ctx context.Context, ev event.Event, id string) (providers.Decision, error) {
			res, err := s.gate.Decide(ctx, gate.Request{Event: ev, DeliveryID: id, Source: name, Actor: "admission:" + name})
			if err != nil {
				return providers.Decision{}, err
			}
			return decisionOf(res), nil
		}
		r.POST(ad.AdmissionPath(), s.withTimeout(), gin.WrapH(ad.AdmissionHandler(decide)))
	}
}

// syncGate decides the job's change: 200 allow, 403 deny, 202 held for a
// human with the approval to poll. A job that asks again (a retried call)
// is answered from its first decision.
func (s *Server) syncGate(name string, g providers.SyncGate) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		sctx, span := s.stage(ctx, "sync_gate.request", attribute.String("agentgate.provider", name))
		ev, id, _, err := g.GateRequest(sctx, c.Request.Header)
		telemetry.EndSpan(span, err)
		if err != nil {
			s.fail(c, err)
			return
		}
		res, err := s.gate.Decide(ctx, gate.Request{Event: ev, DeliveryID: id, Source: name, Actor: "gate:" + name})
		if err != nil {
			s.fail(c, err)
			return
		}
		ans := gateAnswer{Decision: &res}
		switch res.Effective {
		case gate.Allow:
			ans.Status = gateAllowed
			c.JSON(http.StatusOK, ans)
		case gate.ApprovalRequired:
			ans.Status, ans.Poll = gatePending, "/"+name+"/gate/"+res.Approval.ID
			ans.Message = "waiting for a human to approve: " + res.Approval.Reason
			c.Header("Location", ans.Poll)
			c.JSON(http.StatusAccepted, ans)
		default:
			ans.Status = gateDenied
			ans.Message = "refused by agentgate"
			c.JSON(http.StatusForbidden, ans)
		}
	}
}

// syncGatePoll reports a held change's approval: 202 while pending, 200
// once approved, 403 once rejected, expired or cancelled. A job sees only
// approvals of its own project or app.
func (s *Server) syncGatePoll(name string, g providers.SyncGate) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		_, _, scope, err := g.GateRequest(ctx, c.Request.Header)
		if err != nil {
			s.fail(c, err)
			return
		}
		id := c.Param("id")
		a, err := s.store.GetApproval(ctx, id)
		if err != nil || a.Provider != name || a.Repo != scope {
			s.fail(c, apperr.NotFound("approval %q not found", id))
			return
		}
		ans := gateAnswer{Approval: &a}
		switch a.State {
		case store.ApprovalPending:
			ans.Status, ans.Poll = gatePending, "/"+name+"/gate/"+a.ID
			ans.Message = "waiting for a human to approve until " + a.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
			c.JSON(http.StatusAccepted, ans)
		case store.ApprovalApproved:
			ans.Status, ans.Message = gateAllowed, "approved by "+a.ResolvedBy
			c.JSON(http.StatusOK, ans)
		default:
			ans.Status = gateDenied
			ans.Message = string(a.State) + " by " + a.ResolvedBy + ": " + a.ResolvedNote
			c.JSON(http.StatusForbidden, ans)
		}
	}
}
