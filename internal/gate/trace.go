package gate

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Span names of a decision's stages, children of "gate.decide".
const (
	spanDecide     = "gate.decide"
	spanIdentify   = "gate.identify"
	spanKillSwitch = "gate.kill_switch"
	spanQuotaUsage = "gate.quota_usage"
	spanPolicy     = "gate.policy"
	spanCommit     = "gate.commit"
)

// stage starts the span of one stage of a decision.
func (g *Gate) stage(ctx context.Context, name string) (context.Context, trace.Span) {
	return g.o.Tracer.Start(ctx, name)
}

// describe puts what was decided on the decision's span: never a secret
// nor the event's free text, only names, outcome and revision.
func describe(span trace.Span, p *plan, res Result) {
	if !span.IsRecording() {
		return // tracing off or not sampled: build nothing
	}
	attrs := []attribute.KeyValue{
		attribute.String("agentgate.provider", p.ev.Provider),
		attribute.String("agentgate.event.kind", string(p.ev.Kind)),
		attribute.String("agentgate.outcome", string(res.Outcome)),
		attribute.String("agentgate.effective", string(res.Effective)),
		attribute.String("agentgate.policy.revision", p.revision),
		attribute.String("agentgate.decision_id", res.DecisionID),
		attribute.Bool("agentgate.replayed", res.Replayed),
	}
	if a := p.ident.Agent; a != nil {
		attrs = append(attrs, attribute.String("agentgate.agent", a.Name), attribute.String("agentgate.agent.type", string(a.Type)),
			attribute.String("agentgate.agent.tier", string(a.Tier)))
	}
	rules := make([]string, 0, len(res.Reasons))
	for _, r := range res.Reasons {
		rules = append(rules, r.Rule)
	}
	if len(rules) > 0 {
		attrs = append(attrs, attribute.StringSlice("agentgate.rules", rules))
	}
	span.SetAttributes(attrs...)
}
