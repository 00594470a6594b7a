package registry

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Options configures a Service.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// TokenGrace is how long a rotated-out token keeps working.
	TokenGrace time.Duration
	// OnApprovalsResolved is told, after commit, about pending approvals a
	// kill switch rejected or a decommission cancelled, so the held changes
	// are refused at the CI system too.
	OnApprovalsResolved func(ctx context.Context, list []store.Approval, note string)
}

// Service is the agent registry.
type Service struct {
	store      Store
	log        *slog.Logger
	now        func() time.Time
	grace      time.Duration
	onResolved func(ctx context.Context, list []store.Approval, note string)
}

// New returns a registry service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TokenGrace <= 0 {
		o.TokenGrace = time.Hour
	}
	return &Service{store: o.Store, log: o.Logger, now: o.Now, grace: o.TokenGrace, onResolved: o.OnApprovalsResolved}
}

// Spec is what an operator gives to provision an agent.
type Spec struct {
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	Owner        string            `json:"owner"`
	Capabilities []string          `json:"capabilities"`
	Tier         agents.Tier       `json:"tier"`
	Environments []string          `json:"environments"`
	Namespaces   []string          `json:"namespaces"`
	Principals   []string          `json:"principals"`
	Labels       map[string]string `json:"labels"`
	ExpiresAt    *time.Time        `json:"expires_at"`
}

// Provision registers a new agent in the active state (tier new unless
// given) and returns it with its API token, which is shown only this once.
func (s *Service) Provision(ctx context.Context, actor string, spec Spec) (agents.Agent, string, error) {
	now := s.now().UTC().Truncate(time.Microsecond) // as the store keeps it
	principals, err := agents.CanonicalPrincipals(spec.Principals)
	if err != nil {
		return agents.Agent{}, "", err
	}
	spec.Principals = principals
	a, err := newAgent(spec, now)
	if err != nil {
		return agents.Agent{}, "", err
	}
	token, hash, err := newToken()
	if err != nil {
		return agents.Agent{}, "", err
	}
	err = s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		if err := q.CreateAgent(ctx, a); err != nil {
			return err
		}
		if err := q.PutToken(ctx, store.Token{Hash: hash, AgentID: a.ID, CreatedAt: now}); err != nil {
			return err
		}
		return appendChange(ctx, q, audit.KindAdminChange, actor, a, "agent provisioned", map[string]string{
			"change": "provision", "environments": fmt.Sprint(a.Environments), "principals": fmt.Sprint(a.Principals),
		}, now)
	})
	if err != nil {
		return agents.Agent{}, "", fmt.Errorf("provision agent %q: %w", spec.Name, err)
	}
	s.log.InfoContext(ctx, "agent provisioned", "agent_id", a.ID, "name", a.Name, "actor", actor)
	return a, token, nil
}

// newAgent is the new, active agent spec declares (tier new unless
// given), validated; spec's principals must be canonical.
func newAgent(spec Spec, now time.Time) (agents.Agent, error) {
	a := agents.Agent{
		ID: uuid.NewString(), Name: spec.Name, Type: spec.Type, Owner: spec.Owner,
		Capabilities: nonNil(spec.Capabilities), Tier: spec.Tier, State: agents.StateActive,
		Environments: nonNil(spec.Environments), Namespaces: nonNil(spec.Namespaces),
		Principals: nonNil(spec.Principals), Labels: spec.Labels, ExpiresAt: spec.ExpiresAt,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if a.Tier == "" {
		a.Tier = agents.TierNew
	}
	return a, a.Validate()
}

// Get returns one agent by id or, failing that, by name.
func (s *Service) Get(ctx context.Context, idOrName string) (agents.Agent, error) {
	a, err := s.store.GetAgent(ctx, idOrName)
	if apperr.KindOf(err) == apperr.KindNotFound {
		a, err = s.store.GetAgentByName(ctx, idOrName)
	}
	if apperr.KindOf(err) == apperr.KindNotFound {
		return agents.Agent{}, apperr.NotFound("agent %q not found", idOrName)
	}
	return a, err
}

// List returns agents matching f.
func (s *Service) List(ctx context.Context, f store.AgentFilter) ([]agents.Agent, error) {
	return s.store.ListAgents(ctx, f)
}

// Patch is a partial update of an agent's descriptive fields. Tier and
// state change only through the lifecycle operations.
type Patch struct {
	Owner        *string            `json:"owner"`
	Capabilities *[]string          `json:"capabilities"`
	Environments *[]string          `json:"environments"`
	Namespaces   *[]string          `json:"namespaces"`
	Principals   *[]string          `json:"principals"`
	Labels       *map[string]string `json:"labels"`
	ExpiresAt    *time.Time         `json:"expires_at"`
	// ClearExpiry removes the expiry.
	ClearExpiry bool `json:"clear_expiry"`
	// Version, when non-zero, must match the stored version.
	Version int64 `json:"version"`
}

// Update applies a patch.
func (s *Service) Update(ctx context.Context, actor, id string, p Patch) (agents.Agent, error) {
	return s.mutate(ctx, actor, id, audit.KindAdminChange, "agent updated", func(a *agents.Agent) (map[string]string, error) {
		if a.State == agents.StateDecommissioned {
			return nil, apperr.Conflict("agent %s is decommissioned and cannot change", a.Name)
		}
		if p.Version != 0 && p.Version != a.Version {
			return nil, apperr.Conflict("agent %s is at version %d, not %d", a.Name, a.Version, p.Version)
		}
		set(&a.Owner, p.Owner)
		set(&a.Capabilities, p.Capabilities)
		set(&a.Environments, p.Environments)
		set(&a.Namespaces, p.Namespaces)
		if p.Principals != nil {
			principals, err := agents.CanonicalPrincipals(*p.Principals)
			if err != nil {
				return nil, err
			}
			a.Principals = principals
		}
		set(&a.Labels, p.Labels)
		if p.ExpiresAt != nil {
			a.ExpiresAt = p.ExpiresAt
		}
		if p.ClearExpiry {
			a.ExpiresAt = nil
		}
		return map[string]string{"change": "update"}, nil
	})
}

// mutate loads an agent, applies change, stores it and appends an audit
// record, all in one transaction.
func (s *Service) mutate(ctx context.Context, actor, id string, kind audit.Kind, msg string, change func(*agents.Agent) (map[string]string, error)) (agents.Agent, error) {
	var out agents.Agent
	err := s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		a, err := getIn(ctx, q, id)
		if err != nil {
			return err
		}
		details, err := change(&a)
		if err != nil {
			return err
		}
		if err := a.Validate(); err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		a.UpdatedAt = now
		if err := q.UpdateAgent(ctx, a); err != nil {
			return err
		}
		a.Version++
		if reason := details["reason"]; reason != "" {
			msg = msg + ": " + reason
		}
		if err := appendChange(ctx, q, kind, actor, a, msg, details, now); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return agents.Agent{}, err
	}
	s.log.InfoContext(ctx, msg, "agent_id", out.ID, "actor", actor)
	return out, nil
}

func getIn(ctx context.Context, q store.Queries, idOrName string) (agents.Agent, error) {
	a, err := q.GetAgent(ctx, idOrName)
	if apperr.KindOf(err) == apperr.KindNotFound {
		a, err = q.GetAgentByName(ctx, idOrName)
	}
	if apperr.KindOf(err) == apperr.KindNotFound {
		return agents.Agent{}, apperr.NotFound("agent %q not found", idOrName)
	}
	return a, err
}

func appendChange(ctx context.Context, q store.Queries, kind audit.Kind, actor string, a agents.Agent, msg string, details map[string]string, now time.Time) error {
	r := &audit.Record{
		ID: uuid.NewString(), Time: now, Kind: kind, Actor: actor,
		AgentID: a.ID, AgentName: a.Name, AgentType: a.Type, Owner: a.Owner, Tier: string(a.Tier),
		Message: msg, Details: details,
	}
	return q.AppendAudit(ctx, r)
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
