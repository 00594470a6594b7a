package gate

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// plan is everything decided before the transaction: who, the policy's
// verdict and what to charge.
type plan struct {
	ev    event.Event
	now   time.Time
	ident registry.Identity
	// initiator is whom the actor acts for, identified (nil: nobody named).
	initiator *policy.Initiator
	policy    policy.Decision
	revision  string
	outcome   Outcome
	reasons   []policy.Reason
	warnings  []policy.Reason
	// dryrun are violations of rules in dryrun mode: recorded in the
	// audit log, never shown to the sender.
	dryrun  []policy.Reason
	charges []store.QuotaCharge
	usage   map[string]policy.Usage
	// input is the decision's recorded policy input (compressed); nil when
	// inputs are not recorded or the policy was not evaluated.
	input []byte
}

// prepare identifies the agent, checks kill switches and evaluates the
// policy. It reads from the store but writes nothing.
func (g *Gate) prepare(ctx context.Context, ev event.Event) (*plan, error) {
	ev.Normalize()
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	ev.Principal, ev.Initiator = ev.CanonicalPrincipal(), ev.CanonicalInitiator()
	p := &plan{ev: ev, now: g.o.Now().UTC(), usage: map[string]policy.Usage{}}
	sctx, span := g.stage(ctx, spanIdentify)
	ident, err := g.o.Identify.Identify(sctx, &p.ev)
	if err != nil {
		err = fmt.Errorf("identify agent: %w", err)
	} else if p.initiator, err = g.identifyInitiator(sctx, &p.ev); err != nil {
		err = fmt.Errorf("identify initiator: %w", err)
	}
	telemetry.EndSpan(span, err)
	if err != nil {
		return nil, err
	}
	p.ident = ident

	var kill *store.KillSwitch
	if ident.Agent != nil || ident.Unregistered {
		agentID, owner := "", ""
		if a := ident.Agent; a != nil {
			agentID, owner = a.ID, a.Owner
		}
		sctx, span := g.stage(ctx, spanKillSwitch)
		ks, err := g.o.Store.MatchKillSwitch(sctx, agentID, owner)
		span.End()
		switch {
		case err == nil:
			kill = &ks
		case apperr.KindOf(err) != apperr.KindNotFound:
			return nil, fmt.Errorf("kill switch lookup: %w", err)
		}
	}
	if a := ident.Agent; a != nil {
		sctx, span := g.stage(ctx, spanQuotaUsage)
		usage, err := g.o.Store.QuotaUsage(sctx, a.ID, p.now)
		telemetry.EndSpan(span, err)
		if err != nil {
			return nil, fmt.Errorf("quota usage: %w", err)
		}
		for _, u := range usage {
			p.usage[u.Name] = policy.Usage{Used: u.Used, Limit: u.Limit}
		}
	}

	sctx, span = g.stage(ctx, spanPolicy)
	in := policy.Input{
		Event: p.ev, Agent: ident.Agent, UnregisteredAgent: ident.Unregistered,
		Usage: p.usage, Now: p.now.Format(time.RFC3339Nano), Initiator: p.initiator,
	}
	res, perr := g.o.Policy.Evaluate(sctx, in)
	span.SetAttributes(attribute.String("agentgate.policy.revision", res.Revision))
	telemetry.EndSpan(span, perr)
	p.policy, p.revision = res.Decision, res.Revision
	if perr == nil {
		// Built whatever the verdict: an end event releases its leases
		// even when a kill switch refuses everything else.
		p.charges = quotaCharges(ident.Agent != nil, res.Decision.Quotas)
		if g.o.Shadow != nil {
			g.o.Shadow.Observe(in, res.Decision)
		}
		if g.o.Inputs != nil {
			// Compressed here, outside the decision's transaction. A record
			// that cannot be made costs replay one decision, not the
			// decision itself.
			if p.input, err = g.o.Inputs.Encode(&in, res.Revision, res.Decision); err != nil {
				g.o.Logger.WarnContext(ctx, "policy input not recorded", "err", err)
			}
		}
	}
	switch {
	case kill != nil:
		p.outcome = Deny
		p.reasons = []policy.Reason{{Rule: RuleKillSwitch, Enforcement: policy.Enforce,
			Message: fmt.Sprintf("%s kill switch engaged by %s: %s", kill.Scope, kill.EngagedBy, kill.Reason)}}
		// A kill switch is never softened by warn or dryrun.
		p.policy.Enforcement = policy.Enforce
	case perr != nil:
		g.o.Logger.ErrorContext(ctx, "policy evaluation failed", "err", perr, "provider", ev.Provider)
		p.revision = g.o.Revision()
		p.policy = policy.Decision{Enforcement: policy.Enforce}
		r := policy.Reason{Rule: RulePolicyFailed, Enforcement: policy.Enforce, Message: "the policy could not be evaluated: " + perr.Error()}
		if g.failMode(&p.ev) == config.FailClosed {
			p.outcome, p.reasons = Deny, []policy.Reason{r}
		} else {
			r.Enforcement = policy.Warn
			p.outcome, p.warnings = Allow, []policy.Reason{r}
		}
	default:
		p.verdict()
	}
	return p, nil
}

// verdict turns the policy decision into an outcome and quota charges.
func (p *plan) verdict() {
	d := p.policy
	for _, w := range d.Warnings {
		if w.Enforcement == policy.DryRun {
			p.dryrun = append(p.dryrun, w)
		} else {
			p.warnings = append(p.warnings, w)
		}
	}
	switch {
	case len(d.Deny) > 0:
		p.outcome, p.reasons = Deny, d.Deny
	case !d.Allow:
		p.outcome = Deny
		p.reasons = []policy.Reason{{Rule: "policy", Message: "the policy did not allow this change", Enforcement: policy.Enforce}}
	case d.RequireApproval != nil && p.ev.NoHold && !p.ev.IsEnd() && !p.ev.IsReport():
		// Nothing waits for this answer; the event that does will be held.
		p.outcome = Allow
		p.warnings = append(p.warnings, policy.Reason{Rule: "approval", Enforcement: policy.Warn,
			Message: "approval required, but this event cannot be held; the change is gated where it is held: " + d.RequireApproval.Reason})
	case d.RequireApproval != nil && !p.ev.IsEnd() && !p.ev.IsReport():
		p.outcome = ApprovalRequired
		p.reasons = []policy.Reason{{Rule: "approval", Message: d.RequireApproval.Reason, Enforcement: policy.Enforce}}
	default:
		p.outcome = Allow
	}
}

// quotaCharges turns the policy's quota specs into store charges; only
// agents are charged.
func quotaCharges(agent bool, specs []policy.QuotaSpec) []store.QuotaCharge {
	if !agent {
		return nil
	}
	out := make([]store.QuotaCharge, 0, len(specs))
	for _, q := range specs {
		out = append(out, store.QuotaCharge{
			Name: q.Name, Concurrency: q.Kind == policy.QuotaConcurrency, Limit: q.Limit,
			Window: time.Duration(q.Window), Cost: q.Cost, Key: q.Key, TTL: time.Duration(q.TTL),
		})
	}
	return out
}

// effective is what the sender must do under the enforcement mode. A
// report of something that already happened has nothing to enforce.
func (p *plan) effective() Outcome { return p.effectiveOf(p.outcome) }

func (p *plan) effectiveOf(o Outcome) Outcome {
	if p.policy.Enforcement == policy.Enforce && !p.ev.IsReport() {
		return o
	}
	return Allow
}

// quotaReason explains a refused quota.
func quotaReason(c store.QuotaCharge, r store.QuotaResult) policy.Reason {
	if c.Concurrency {
		// A slot frees when something held ends, usually long before
		// the lease's TTL (which only bounds a lost end).
		msg := fmt.Sprintf("quota %s exhausted: %d of %d in use; a slot frees when one of your %d %s",
			r.Name, r.Used, r.Limit, r.Used, heldNoun(r.Name))
		return policy.Reason{Rule: RuleQuota + "." + r.Name, Message: msg, Enforcement: policy.Enforce}
	}
	msg := fmt.Sprintf("quota %s exhausted: %d of %d per %s used", r.Name, r.Used, r.Limit, c.Window)
	if r.RetryAfter > 0 {
		msg += fmt.Sprintf("; retry in %s", r.RetryAfter.Round(time.Second))
	}
	return policy.Reason{Rule: RuleQuota + "." + r.Name, Message: msg, Enforcement: policy.Enforce}
}

// heldNoun says what a concurrency quota's leases stand for and what ends
// one.
func heldNoun(quota string) string {
	switch quota {
	case "concurrent_workflows":
		return "running workflows finishes (or is deleted)"
	case "concurrent_environments":
		return "ephemeral environments is torn down (its end event)"
	}
	return "held " + quota + " leases is released by its end event"
}

// identifyInitiator identifies the principal the actor acts for, as the
// actor is identified: a registered agent, an unregistered one, or a
// person. Nil when the event names nobody, or the actor itself.
func (g *Gate) identifyInitiator(ctx context.Context, ev *event.Event) (*policy.Initiator, error) {
	if ev.Initiator == "" || ev.Initiator == ev.Principal {
		return nil, nil
	}
	probe := event.Event{Provider: ev.Provider, Kind: ev.Kind, Principal: ev.Initiator}
	id, err := g.o.Identify.Identify(ctx, &probe)
	if err != nil {
		return nil, err
	}
	in := &policy.Initiator{Principal: probe.Principal, UnregisteredAgent: id.Unregistered}
	if id.Agent != nil {
		ref := id.Agent.Ref()
		in.Agent = &ref
	}
	return in, nil
}
