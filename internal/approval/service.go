package approval

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/enforce"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/store"
)

// Submitter queues a call to a provider (the enforcement dispatcher).
type Submitter interface {
	Submit(j enforce.Job)
}

var _ Submitter = (*enforce.Dispatcher)(nil)

// Options configures a Service.
type Options struct {
	Store     Store
	Providers *providers.Registry
	Dispatch  Submitter
	Logger    *slog.Logger
	Now       func() time.Time
	// OnResolved is told about every approval this service resolves
	// (approved, rejected, expired, or refused elsewhere and released
	// here), after the resolution is stored: the Slack message is updated.
	OnResolved func(ctx context.Context, a store.Approval)
}

// Service resolves approvals.
type Service struct {
	o Options
}

// New returns the approval service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{o: o}
}

// Approver is the person resolving an approval.
type Approver struct {
	// Name is the caller's identity (API token name, later a Slack user).
	Name string
	Role config.Role
	// Agent is true for agent tokens: agents never approve.
	Agent bool
	// Groups are groups a trusted front end found the person belongs to
	// (Slack user group handles); an approvers entry naming one of them
	// admits the person. Never taken from API input.
	Groups []string
	// Aliases are the person's other identities (e-mail, chat user name),
	// used only by the prompter rule; they never admit.
	Aliases []string
}

// Resolve approves or rejects a pending approval on behalf of who. A
// rejection needs a reason (it is shown to the CI system). Refusals are
// audited too.
func (s *Service) Resolve(ctx context.Context, who Approver, id string, approve bool, reason string) (store.Approval, error) {
	a, err := s.o.Store.GetApproval(ctx, id)
	if err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			return store.Approval{}, apperr.NotFound("approval %q not found", id)
		}
		return store.Approval{}, err
	}
	verb := map[bool]string{true: "approve", false: "reject"}[approve]
	if !approve && strings.TrimSpace(reason) == "" {
		return store.Approval{}, apperr.Invalid("a reason is required to reject (it is shown to the CI system)")
	}
	if a.State == store.ApprovalPending && !s.o.Now().Before(a.ExpiresAt) {
		// Past its deadline but not yet swept by the leader: expire it now.
		if _, err := s.expire(ctx, a); err != nil {
			return store.Approval{}, err
		}
		return store.Approval{}, apperr.Conflict("approval %s expired at %s", a.ID, a.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := mayResolve(who, a); err != nil {
		s.auditRefusal(ctx, who, a, verb, err)
		return store.Approval{}, err
	}
	state := store.ApprovalRejected
	if approve {
		state = store.ApprovalApproved
	}
	resolved, err := s.transition(ctx, a.ID, state, who.Name, reason)
	if err != nil {
		return resolved, err
	}
	s.release(resolved, approve, comment(resolved, who.Name, reason))
	return resolved, nil
}

// mayResolve applies the approver rules: never an agent; never the person
// who prompted the agent; not the agent's owner when the approvers carry
// "!owner"; and only someone the policy's approvers name
// ("role:R" for an API role R or higher, anything else a caller name), or
// an admin when the policy named none.
func mayResolve(who Approver, a store.Approval) error {
	if who.Agent {
		return apperr.Forbidden("agents never approve changes")
	}
	if t := a.Event.Trigger.TriggeredBy; t != "" && isWho(who, t) {
		return apperr.Forbidden("%s prompted this agent's change and cannot approve or reject it", who.Name)
	}
	var approvers []string
	for _, ap := range a.Approvers {
		if ap == excludeOwner {
			if a.Owner != "" && isWho(who, a.Owner) {
				return apperr.Forbidden("%s owns this agent and, by policy, cannot approve or reject its changes", who.Name)
			}
			continue
		}
		approvers = append(approvers, ap)
	}
	if len(approvers) == 0 {
		approvers = []string{"role:" + string(config.RoleAdmin)}
	}
	for _, ap := range approvers {
		if role, ok := strings.CutPrefix(ap, "role:"); ok {
			// Roles are API roles: a chat user with no role is not admitted.
			if r := config.Role(role); r.Rank() > 0 && who.Role.Rank() >= r.Rank() {
				return nil
			}
			continue
		}
		if strings.EqualFold(strings.TrimPrefix(ap, "user:"), who.Name) {
			return nil
		}
		for _, g := range who.Groups {
			if strings.EqualFold(ap, g) {
				return nil
			}
		}
	}
	return apperr.Forbidden("%s is not an approver of this change (approvers: %s)", who.Name, strings.Join(approvers, ", "))
}

// excludeOwner in an approvers list (policy settings.approvals.exclude_owner)
// keeps the agent's owner from resolving its changes.
const excludeOwner = "!owner"

// isWho reports whether id names the person, by name or an alias.
func isWho(who Approver, id string) bool {
	for _, n := range append([]string{who.Name}, who.Aliases...) {
		if n != "" && strings.EqualFold(n, id) {
			return true
		}
	}
	return false
}

// transition moves a pending approval and audits it in one transaction. If
// someone else resolved it first, the error says who and when.
func (s *Service) transition(ctx context.Context, id string, state store.ApprovalState, by, note string) (store.Approval, error) {
	var out store.Approval
	err := s.o.Store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		now := s.o.Now().UTC()
		a, err := q.ResolveApproval(ctx, id, state, by, note, now)
		if apperr.KindOf(err) == apperr.KindConflict {
			when := ""
			if a.ResolvedAt != nil {
				when = " at " + a.ResolvedAt.Format(time.RFC3339)
			}
			return apperr.Conflict("approval %s is already %s by %s%s", id, a.State, a.ResolvedBy, when)
		}
		if err != nil {
			return err
		}
		out = a
		return q.AppendAudit(ctx, approvalRecord(a, by, string(state), note, now))
	})
	return out, err
}

func approvalRecord(a store.Approval, by, outcome, note string, now time.Time) *audit.Record {
	ev := a.Event
	return &audit.Record{
		ID: uuid.NewString(), Time: now, Kind: audit.KindApproval, Actor: by, Approver: by,
		AgentID: a.AgentID, Owner: a.Owner, Provider: a.Provider, EventKind: string(ev.Kind), Repo: a.Repo,
		Ref: ev.Ref, SHA: a.SHA, Environment: a.Environment, Namespace: ev.Namespace, Principal: ev.Principal,
		ApprovalID: a.ID, Decision: &audit.Decision{Outcome: outcome}, Message: note,
	}
}

func (s *Service) auditRefusal(ctx context.Context, who Approver, a store.Approval, verb string, why error) {
	rec := approvalRecord(a, who.Name, "refused", fmt.Sprintf("%s refused: %s", verb, apperr.PublicMessage(why)), s.o.Now().UTC())
	rec.Approver = ""
	if err := s.o.Store.AppendAudit(ctx, rec); err != nil {
		s.o.Logger.Error("could not audit an approval refusal", "approval_id", a.ID, "err", err)
	}
}

// ExpireDue expires every pending approval past its deadline and refuses
// the held changes. It runs on the leader.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	pending, err := s.o.Store.ListApprovals(ctx, store.ApprovalFilter{State: store.ApprovalPending})
	if err != nil {
		return 0, err
	}
	now := s.o.Now()
	n := 0
	for _, a := range pending {
		if now.Before(a.ExpiresAt) {
			continue
		}
		expired, err := s.expire(ctx, a)
		if err != nil {
			return n, err
		}
		if expired {
			n++
		}
	}
	return n, nil
}

// expire moves a pending approval past its deadline to expired and refuses
// the held change; false if someone resolved it first.
func (s *Service) expire(ctx context.Context, a store.Approval) (bool, error) {
	note := fmt.Sprintf("approval expired: nobody approved within %s", a.ExpiresAt.Sub(a.CreatedAt).Round(time.Minute))
	resolved, err := s.transition(ctx, a.ID, store.ApprovalExpired, "agentgate", note)
	if apperr.KindOf(err) == apperr.KindConflict {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.release(resolved, false, note)
	return true, nil
}

// Released refuses the held changes of approvals resolved elsewhere (a kill
// switch, a decommission).
func (s *Service) Released(_ context.Context, list []store.Approval, note string) {
	for _, a := range list {
		s.release(a, false, note)
	}
}

// release queues the call that lets the held change go on or refuses it,
// and tells OnResolved.
func (s *Service) release(a store.Approval, approved bool, comment string) {
	if s.o.OnResolved != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.o.OnResolved(ctx, a)
		cancel()
	}
	if s.o.Providers == nil || s.o.Dispatch == nil {
		return
	}
	p, ok := s.o.Providers.Get(a.Provider)
	if !ok {
		return
	}
	r, ok := p.(providers.Releaser)
	if !ok {
		return
	}
	ev := a.Event
	s.o.Dispatch.Submit(enforce.Job{
		Provider: a.Provider, Action: "release", Event: ev, ApprovalID: a.ID,
		Run: func(ctx context.Context) error { return r.Release(ctx, ev, approved, comment) },
	})
}

func comment(a store.Approval, by, reason string) string {
	verb := "Rejected"
	if a.State == store.ApprovalApproved {
		verb = "Approved"
	}
	msg := fmt.Sprintf("%s by %s through agentgate", verb, by)
	if reason != "" {
		msg += ": " + reason
	}
	return msg
}
