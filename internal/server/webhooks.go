package server

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/enforce"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// webhookAnswer is the body of a processed webhook: 200 with the decisions
// even when they deny (senders retry on non-2xx; a deny is enforced, not
// signalled by status).
type webhookAnswer struct {
	Delivery  string        `json:"delivery"`
	Ignored   string        `json:"ignored,omitempty"`
	Decisions []gate.Result `json:"decisions"`
}

// webhook verifies, parses and decides a provider's delivery.
func (s *Server) webhook(c *gin.Context) {
	name := c.Param("provider")
	p, ok := s.providers.Get(name)
	if !ok {
		s.fail(c, apperr.NotFound("no webhook provider %q (have %v)", name, s.providers.Names()))
		return
	}
	count := func(result string) {
		if s.metrics != nil {
			s.metrics.Webhooks.WithLabelValues(name, result).Inc()
		}
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		err := apperr.FromBodyRead(err)
		switch err.Kind {
		case apperr.KindTooLarge:
			count("too_large")
		case apperr.KindTimeout:
			count("timeout")
		}
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	_, span := s.stage(ctx, "webhook.verify", attribute.String("agentgate.provider", name))
	err = p.Verify(c.Request.Header, body)
	telemetry.EndSpan(span, err)
	if err != nil {
		count("unauthenticated")
		s.log.WarnContext(ctx, "webhook refused", "provider", name, "reason", err.Error(), "remote", c.ClientIP())
		s.fail(c, err)
		return
	}
	_, span = s.stage(ctx, "webhook.parse", attribute.String("agentgate.provider", name))
	d, err := p.Parse(c.Request.Header, body)
	if err == nil {
		span.SetAttributes(attribute.Int("agentgate.events", len(d.Events)))
	}
	telemetry.EndSpan(span, err)
	if err != nil {
		count("invalid")
		s.fail(c, err)
		return
	}
	ans := webhookAnswer{Delivery: d.ID, Ignored: d.Ignored, Decisions: []gate.Result{}}
	if len(d.Events) == 0 {
		count("ignored")
		c.JSON(http.StatusOK, ans)
		return
	}
	for i, ev := range d.Events {
		id := d.ID
		if i > 0 {
			id = fmt.Sprintf("%s#%d", d.ID, i)
		}
		s.resolve(ctx, name, p, &ev)
		res, err := s.gate.Decide(ctx, gate.Request{Event: ev, DeliveryID: id, Source: name, Actor: "webhook:" + name})
		if err != nil {
			count("error")
			s.fail(c, err)
			return
		}
		ans.Decisions = append(ans.Decisions, res)
		if !res.Replayed {
			s.enforce(ctx, name, p, ev, res)
		}
	}
	if ans.Decisions[0].Replayed {
		count("replayed")
	} else {
		count("decided")
	}
	c.JSON(http.StatusOK, ans)
}

// resolve completes an event from the provider's API when the provider
// needs to (providers.Resolver). A failed look-up leaves the event as
// parsed, which fails closed, and is logged.
func (s *Server) resolve(ctx context.Context, name string, p providers.Provider, ev *event.Event) {
	r, ok := p.(providers.Resolver)
	if !ok {
		return
	}
	ctx, span := s.stage(ctx, "webhook.resolve", attribute.String("agentgate.provider", name))
	err := r.Resolve(ctx, ev)
	telemetry.EndSpan(span, err)
	if err != nil {
		s.log.WarnContext(ctx, "could not complete the event from the provider's API; it is decided as parsed", "provider", name, "err", err)
	}
}

// enforce queues the provider's enforcement of a decision, to run after
// the answer is sent; its span is linked to the request's trace.
func (s *Server) enforce(ctx context.Context, name string, p providers.Provider, ev event.Event, res gate.Result) {
	e, ok := p.(providers.Enforcer)
	if !ok || s.dispatch == nil {
		return
	}
	d := decisionOf(res)
	link := trace.LinkFromContext(ctx)
	s.dispatch.Submit(enforce.Job{
		Provider: name, Action: "enforce", Event: ev, DecisionID: res.DecisionID, ApprovalID: d.ApprovalID,
		Run: func(ctx context.Context) error {
			ctx, span := s.tracer.Start(ctx, "enforce", trace.WithLinks(link), trace.WithAttributes(
				attribute.String("agentgate.provider", name), attribute.String("agentgate.decision_id", res.DecisionID)))
			err := e.Enforce(ctx, ev, d)
			telemetry.EndSpan(span, err)
			return err
		},
	})
}

// decisionOf is what a provider needs of a decision.
func decisionOf(res gate.Result) providers.Decision {
	d := providers.Decision{
		DecisionID: res.DecisionID, Outcome: res.Outcome, Effective: res.Effective,
		Reasons: reasonLines(res.Reasons), Warnings: reasonLines(res.Warnings), Enforcement: string(res.Enforcement),
	}
	if res.Approval != nil {
		d.ApprovalID = res.Approval.ID
	}
	if res.Agent != nil {
		d.AgentName = res.Agent.Name
	}
	return d
}

func reasonLines(rs []policy.Reason) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}
