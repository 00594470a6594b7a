package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/telemetry"
)

// Request is one event to decide on.
type Request struct {
	Event event.Event
	// DeliveryID de-duplicates retried deliveries of the same webhook; a
	// replay is answered with the first answer and charges nothing.
	DeliveryID string
	// Source is the webhook that received the event (its route); delivery
	// ids are unique per source, whatever the event claims as provider.
	Source string
	// Actor is who submitted the event (recorded in the audit log).
	Actor string
}

func (r Request) source(ev *event.Event) string {
	if r.Source != "" {
		return r.Source
	}
	return ev.Provider
}

// Decide runs the full admission pipeline for one event and returns the
// decision once it is durably in the audit log.
func (g *Gate) Decide(ctx context.Context, req Request) (_ Result, err error) {
	start := time.Now()
	ctx, span := g.stage(ctx, spanDecide)
	defer func() { telemetry.EndSpan(span, err) }()
	leave, err := g.admit.enter(ctx, req.Event.Principal)
	if err != nil {
		return Result{}, err
	}
	defer leave()
	p, err := g.prepare(ctx, req.Event)
	if err != nil {
		if errors.Is(err, event.ErrInvalidPrincipal) {
			g.recordRefusal(ctx, req, err)
		}
		return Result{}, g.storeDown(err)
	}
	agentID := ""
	if a := p.ident.Agent; a != nil {
		agentID = a.ID
	}
	g.admit.learn(p.ev.Principal, agentID) // canonical since prepare
	res := p.result()
	var (
		replayed bool
		approval *store.Approval
		counts   anomalyCounts
		deployed *store.Deployment
	)
	cctx, commit := g.stage(ctx, spanCommit)
	err = g.o.Store.InSharedTx(cctx, func(ctx context.Context, q store.Queries) error {
		res = p.result()
		approval, counts, deployed = nil, anomalyCounts{}, nil
		if p.charging(res) {
			// The agent's quota lock and state are read with the claim.
			if err := q.PrepareCharge(ctx, p.ident.Agent.ID); err != nil {
				return fmt.Errorf("prepare charge: %w", err)
			}
		}
		if req.DeliveryID != "" {
			prior, err := q.ClaimDelivery(ctx, store.Delivery{Provider: req.source(&p.ev), ID: req.DeliveryID, CreatedAt: p.now, ExpiresAt: p.now.Add(g.o.DeliveryTTL)})
			if err != nil {
				return fmt.Errorf("claim delivery: %w", err)
			}
			if prior != nil {
				replayed = true
				if err := json.Unmarshal(prior.Result, &res); err != nil {
					return fmt.Errorf("decode stored answer of delivery %s: %w", req.DeliveryID, err)
				}
				res.Replayed = true
				return nil
			}
		}
		var used *store.Approval
		if res.Effective == ApprovalRequired && p.ev.Resubmits && p.ident.Agent != nil {
			pr, err := p.priorApprovals(ctx, q)
			if err != nil {
				return err
			}
			used = p.applyPrior(pr, &res)
		}
		if err := g.charge(ctx, q, p, &res); err != nil {
			return err
		}
		var err error
		if deployed, err = p.recordReport(ctx, q, req); err != nil {
			return err
		}
		if err := p.recordAttribution(ctx, q, res); err != nil {
			return err
		}
		var counters []store.CounterIncr
		if a := p.ident.Agent; a != nil && !p.ev.IsReport() {
			counters = anomalyCounters(a.ID, res.Outcome, p.now, &counts)
		}
		if res.Effective == ApprovalRequired && res.Approval == nil {
			approval = p.newApproval()
			res.Approval = approvalRef(approval)
		}
		if used != nil && res.Outcome != Allow {
			// Refused anyway (a quota): the approval stays for the next try.
			res.Warnings = slices.DeleteFunc(res.Warnings, func(w policy.Reason) bool { return w == usedWarning(used) })
			used, res.Approval = nil, nil
		}
		rec := p.auditRecord(audit.KindDecision, req, res)
		if used != nil {
			rec.Approver = used.ResolvedBy
		}
		// The record, its input, the delivery's answer (which names the
		// record) and the anomaly counters are one write.
		w := store.DecisionWrite{Record: rec, Input: p.input, InputAt: p.now, Counters: counters}
		if req.DeliveryID != "" {
			w.Delivery = &store.DeliveryKey{Provider: req.source(&p.ev), ID: req.DeliveryID}
			w.Answer = func(rec *audit.Record) ([]byte, error) {
				res.DecisionID, res.AuditSeq = rec.ID, rec.Seq
				return json.Marshal(res)
			}
		}
		if err := q.AppendDecision(ctx, w); err != nil {
			return fmt.Errorf("append decision record: %w", err)
		}
		res.DecisionID, res.AuditSeq = rec.ID, rec.Seq
		if used != nil {
			if _, err := q.UseApproval(ctx, used.ID, rec.ID, p.now); err != nil {
				return fmt.Errorf("use approval %s: %w", used.ID, err)
			}
		}
		if approval != nil {
			approval.DecisionSeq = rec.Seq
			if err := q.CreateApproval(ctx, *approval); err != nil {
				return fmt.Errorf("create approval: %w", err)
			}
		}
		return nil
	})
	telemetry.EndSpan(commit, err)
	if err != nil {
		return Result{}, g.storeDown(err)
	}
	describe(span, p, res)
	g.observe(ctx, p, res, replayed, time.Since(start))
	if !replayed {
		g.checkAnomalies(ctx, p, counts)
		if approval != nil && g.o.Notifier != nil {
			g.o.Notifier.ApprovalCreated(ctx, *approval)
		}
		if deployed != nil && deployed.AgentID != "" && g.o.OnDeployment != nil {
			g.o.OnDeployment(ctx, *deployed)
		}
	}
	return res, nil
}

// charge releases leases for end events and charges quotas for allowed
// start events, turning an exhausted quota into a denial.
// charging reports whether charge will charge quotas for res, as decided
// by the policy (an approval used on resubmission may still make it so).
func (p *plan) charging(res Result) bool {
	return p.ident.Agent != nil && len(p.charges) > 0 && !p.ev.IsReport() && !p.ev.IsEnd() && res.Outcome == Allow
}

func (g *Gate) charge(ctx context.Context, q store.Queries, p *plan, res *Result) error {
	a := p.ident.Agent
	if a == nil || len(p.charges) == 0 || p.ev.IsReport() {
		return nil
	}
	if p.ev.IsEnd() {
		for _, c := range p.charges {
			if !c.Concurrency {
				continue
			}
			released, err := q.ReleaseLease(ctx, a.ID, c.Name, c.Key)
			if err != nil {
				return fmt.Errorf("release lease: %w", err)
			}
			if released {
				res.Released = append(res.Released, c.Name+":"+c.Key)
			}
		}
		return nil
	}
	if !p.charging(*res) {
		return nil
	}
	results, ok, err := q.ChargeQuotas(ctx, a.ID, p.charges, p.now)
	if err != nil {
		return fmt.Errorf("charge quotas: %w", err)
	}
	res.Quotas = results
	if !ok {
		res.Outcome = Deny
		for i, r := range results {
			if !r.Allowed {
				res.Reasons = append(res.Reasons, quotaReason(p.charges[i], r))
			}
		}
		res.Effective = p.effectiveOf(Deny)
	}
	return nil
}

// recordReport books what an end or report event says happened: its cost
// (for an agent) in the ledger, and a successful deployment in the history
// rollbacks use, which it returns when it is newly recorded.
func (p *plan) recordReport(ctx context.Context, q store.Queries, req Request) (*store.Deployment, error) {
	ev, a := &p.ev, p.ident.Agent
	if !ev.IsEnd() && !ev.IsReport() {
		return nil, nil
	}
	if c := ev.Cost; c != nil && a != nil {
		err := q.AddCost(ctx, store.CostEntry{
			ID: uuid.NewString(), AgentID: a.ID, AgentType: a.Type, Owner: a.Owner, Provider: ev.Provider,
			Repo: ev.Repo, Minutes: c.Minutes, Amount: c.Amount, Currency: c.Currency, At: p.now,
		})
		if err != nil {
			return nil, fmt.Errorf("add cost: %w", err)
		}
	}
	if !ev.IsReport() || ev.Action != event.ActionSucceeded || (ev.Kind != event.KindDeploy && ev.Kind != event.KindSync) || ev.Environment == "" {
		return nil, nil
	}
	d := store.Deployment{
		ID: deploymentID(ev, req), Provider: ev.Provider, Repo: ev.Repo, Environment: ev.Environment,
		SHA: ev.SHA, Ref: ev.Ref, Principal: ev.Principal, Handles: ev.Handles, At: p.now,
	}
	if a != nil {
		d.AgentID = a.ID
	}
	err := q.RecordDeployment(ctx, d)
	switch {
	case apperr.KindOf(err) == apperr.KindConflict:
		return nil, nil // a redelivered report: recorded (and watched) once
	case err != nil:
		return nil, fmt.Errorf("record deployment: %w", err)
	}
	return &d, nil
}

// deploymentID derives a deployment's id from the provider's own ids, so a
// redelivered report is recorded once.
func deploymentID(ev *event.Event, req Request) string {
	for _, k := range []string{"deployment_id", "history_id", "run_id"} {
		if v := ev.Handles[k]; v != "" {
			return ev.Provider + ":" + ev.Repo + ":" + ev.Environment + ":" + k + "=" + v
		}
	}
	if req.DeliveryID != "" {
		return ev.Provider + ":delivery:" + req.DeliveryID
	}
	return uuid.NewString()
}

// result is the answer before the transaction fills ids and quotas.
func (p *plan) result() Result {
	r := Result{
		Outcome: p.outcome, Effective: p.effective(), Enforcement: p.policy.Enforcement,
		Reasons: p.reasons, Warnings: p.warnings, Unregistered: p.ident.Unregistered,
		ActorIsAgent: p.ident.Agent != nil || p.ident.Unregistered, Initiator: p.initiator,
		PolicyRevision: p.revision,
	}
	if r.Reasons == nil {
		r.Reasons = []policy.Reason{}
	}
	if a := p.ident.Agent; a != nil {
		ref := a.Ref()
		r.Agent = &ref
	}
	return r
}

func (p *plan) newApproval() *store.Approval {
	req := p.policy.RequireApproval
	a := p.ident.Agent
	ap := &store.Approval{
		ID: uuid.NewString(), State: store.ApprovalPending, Provider: p.ev.Provider, Repo: p.ev.Repo,
		SHA: p.ev.SHA, Environment: p.ev.Environment, Event: p.ev, CreatedAt: p.now,
		ExpiresAt: p.now.Add(time.Duration(req.TTL)), Reason: req.Reason, Approvers: req.Approvers,
	}
	if ap.Approvers == nil {
		ap.Approvers = []string{}
	}
	if a != nil {
		ap.AgentID, ap.Owner = a.ID, a.Owner
	}
	return ap
}

// auditRecord builds the decision's audit record.
func (p *plan) auditRecord(kind audit.Kind, req Request, res Result) *audit.Record {
	ev := p.ev
	rec := &audit.Record{
		ID: uuid.NewString(), Time: p.now, Kind: kind, Actor: req.Actor,
		Provider: ev.Provider, EventKind: string(ev.Kind), Action: ev.Action, Repo: ev.Repo, Ref: ev.Ref,
		SHA: ev.SHA, Environment: ev.Environment, Namespace: ev.Namespace, Principal: ev.Principal,
		Initiator: ev.Initiator, ActorIsAgent: res.ActorIsAgent, SessionID: ev.SessionID,
		DeliveryID: req.DeliveryID,
		Decision: &audit.Decision{
			Outcome: string(res.Outcome), Effective: string(res.Effective), Enforcement: string(res.Enforcement),
			PolicyRevision: res.PolicyRevision, Unregistered: res.Unregistered,
			Reasons: reasonStrings(res.Reasons), Warnings: reasonStrings(res.Warnings),
			DryRun: reasonStrings(p.dryrun),
		},
	}
	if t := ev.Trigger; t != (event.Trigger{}) {
		rec.Trigger = &audit.Trigger{Prompt: t.Prompt, Reasoning: t.Reasoning, Source: t.Source, TriggeredBy: t.TriggeredBy, AgentID: t.AgentID}
	}
	if a := p.ident.Agent; a != nil {
		setAgent(rec, a)
	}
	for _, q := range res.Quotas {
		rec.Quotas = append(rec.Quotas, audit.Quota{Name: q.Name, Used: q.Used, Limit: q.Limit})
	}
	if c := ev.Cost; c != nil && (ev.IsEnd() || ev.IsReport()) {
		rec.Cost = &audit.Cost{Minutes: c.Minutes, Amount: c.Amount, Currency: c.Currency}
	}
	if res.Approval != nil {
		rec.ApprovalID = res.Approval.ID
	}
	if len(res.Released) > 0 {
		rec.Details = map[string]string{"released": fmt.Sprint(res.Released)}
	}
	return rec
}

func setAgent(rec *audit.Record, a *agents.Agent) {
	rec.AgentID, rec.AgentName, rec.AgentType, rec.Owner, rec.Tier = a.ID, a.Name, a.Type, a.Owner, string(a.Tier)
}

func reasonStrings(rs []policy.Reason) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// ErrStoreDown is the message of a decision that could not be made because
// the store is unavailable: nothing was decided, charged or recorded, and
// the sender is told to come back (503 with Retry-After).
const ErrStoreDown = "audit store unavailable, decision not recorded"

// storeDown turns an error that says the store cannot be reached into an
// apperr.KindUnavailable that says what it means for the sender.
func (g *Gate) storeDown(err error) error {
	if err == nil || apperr.KindOf(err) != apperr.KindInternal || !g.o.Store.Unavailable(err) {
		return err
	}
	return apperr.Wrap(apperr.KindUnavailable, err, ErrStoreDown)
}

// recordAttribution records whose an allowed object that a controller acts
// on later is (event.HandleAttributeAs): the agent's, or no agent's.
func (p *plan) recordAttribution(ctx context.Context, q store.Queries, res Result) error {
	key, a := p.ev.Handles[event.HandleAttributeAs], p.ident.Agent
	if key == "" || res.Outcome != Allow || p.ev.IsEnd() || p.ev.IsReport() {
		return nil
	}
	kind, rest, ok := strings.Cut(key, "/")
	ns, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || kind == "" || name == "" {
		return apperr.Invalid("event.handles[%q] %q is not <kind>/<namespace>/<name>", event.HandleAttributeAs, key)
	}
	// A person's object is recorded as no agent's, so that an object of
	// the same name an agent had before is not taken for the agent's.
	at := store.Attribution{Kind: kind, Namespace: ns, Name: name, CreatedAt: p.now}
	if a != nil {
		at.AgentID, at.Principal = a.ID, p.ev.Principal
	}
	err := q.PutAttribution(ctx, at)
	if err != nil {
		return fmt.Errorf("record attribution: %w", err)
	}
	return nil
}
