package promotion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

// Mode says what happens to a proposal.
type Mode string

// Modes.
const (
	// ModeConfirm holds a proposal for the owner's or an admin's
	// confirmation (the default).
	ModeConfirm Mode = "confirm"
	// ModeAuto applies a proposal at once.
	ModeAuto Mode = "auto"
)

// Actor is the audit actor of what the job does by itself.
const Actor = "promotion"

// Store is what the service reads and writes.
type Store interface {
	store.PromotionStore
	CountAudit(ctx context.Context, q store.AuditCountQuery) ([]store.AuditCount, error)
	QueryAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error)
	InTx(ctx context.Context, fn func(ctx context.Context, q store.Queries) error) error
}

// Registry is where agents are read and promoted; registry.Service is one.
type Registry interface {
	List(ctx context.Context, f store.AgentFilter) ([]agents.Agent, error)
	Get(ctx context.Context, idOrName string) (agents.Agent, error)
	Promote(ctx context.Context, actor, id string, to agents.Tier, reason string) (agents.Agent, error)
}

// Assessor is the policy's promotion assessment; policy.Engine is one.
type Assessor interface {
	Assess(ctx context.Context, in policy.PromotionInput) (policy.Assessment, error)
}

var _ Assessor = (*policy.Engine)(nil)

// Options configure a Service.
type Options struct {
	Store    Store
	Registry Registry
	Policy   Assessor
	// Mode is confirm when empty.
	Mode Mode
	// Window is what the record's counts cover; 30 days when zero.
	Window time.Duration
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnProposal, when set, is told of every new pending proposal (to
	// announce it in chat).
	OnProposal func(ctx context.Context, p store.Proposal)
}

// Service proposes, applies, confirms and refuses promotions.
type Service struct {
	o Options
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Registry == nil || o.Policy == nil {
		return nil, errors.New("promotion: Store, Registry and Policy are required")
	}
	switch o.Mode {
	case "":
		o.Mode = ModeConfirm
	case ModeConfirm, ModeAuto:
	default:
		return nil, fmt.Errorf("promotion: mode %q is neither confirm nor auto", o.Mode)
	}
	if o.Window <= 0 {
		o.Window = 30 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}, nil
}

// Record reads a's track record as the job sees it.
func (s *Service) Record(ctx context.Context, a agents.Agent) (policy.TrackRecord, error) {
	now := s.o.Now().UTC()
	r := policy.TrackRecord{Days: int(s.o.Window / (24 * time.Hour)), AgeDays: days(now.Sub(a.CreatedAt))}
	from, to := now.Add(-s.o.Window), now.Add(time.Second)
	for _, kind := range []audit.Kind{audit.KindDecision, audit.KindKill, audit.KindRollback} {
		counts, err := s.o.Store.CountAudit(ctx, store.AuditCountQuery{Kind: kind, AgentID: a.ID, From: from, To: to})
		if err != nil {
			return policy.TrackRecord{}, fmt.Errorf("promotion: record of %s: %w", a.Name, err)
		}
		for _, n := range counts {
			switch kind {
			case audit.KindDecision:
				r.Decisions += n.Count
				switch n.Outcome {
				case "allow":
					r.Allowed += n.Count
				case "deny":
					r.Denied += n.Count
				case "approval_required":
					r.Held += n.Count
				}
			case audit.KindKill:
				r.Kills += n.Count
			case audit.KindRollback:
				r.Rollbacks += n.Count
			}
		}
	}
	// Each is one seek of the store's index of an agent's rare kinds.
	for _, since := range []struct {
		kind audit.Kind
		dst  *int
	}{
		{audit.KindKill, &r.DaysSinceKill}, {audit.KindRollback, &r.DaysSinceRollback}, {audit.KindPromotion, &r.DaysSinceTierChange},
	} {
		last, err := s.o.Store.QueryAudit(ctx, store.AuditQuery{AgentID: a.ID, Kind: since.kind, Newest: true, Limit: 1})
		if err != nil {
			return policy.TrackRecord{}, fmt.Errorf("promotion: record of %s: %w", a.Name, err)
		}
		*since.dst = -1
		if len(last) == 1 {
			*since.dst = days(now.Sub(last[0].Time))
		}
	}
	return r, nil
}

// days is whole days in d, never below 0.
func days(d time.Duration) int { return max(0, int(d/(24*time.Hour))) }

// Assess reads a's record and asks the policy.
func (s *Service) Assess(ctx context.Context, a agents.Agent) (policy.TrackRecord, policy.Assessment, error) {
	r, err := s.Record(ctx, a)
	if err != nil {
		return r, policy.Assessment{}, err
	}
	as, err := s.o.Policy.Assess(ctx, policy.PromotionInput{Agent: a, Record: r, Now: s.o.Now().UTC().Format(time.RFC3339)})
	return r, as, err
}

// Mode is the configured mode.
func (s *Service) Mode() Mode { return s.o.Mode }
