package agents

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/principal"
)

// Tier is an agent's trust tier.
type Tier string

// Trust tiers, lowest first.
const (
	TierNew         Tier = "new"
	TierEstablished Tier = "established"
	TierTrusted     Tier = "trusted"
)

// Tiers lists the tiers from lowest to highest.
func Tiers() []Tier { return []Tier{TierNew, TierEstablished, TierTrusted} }

// Rank returns the tier's position (0 lowest) or -1 when unknown.
func (t Tier) Rank() int { return slices.Index(Tiers(), t) }

// State is an agent's lifecycle state.
type State string

// Lifecycle states.
const (
	StateActive         State = "active"
	StateSuspended      State = "suspended"
	StateKilled         State = "killed"
	StateDecommissioned State = "decommissioned"
)

// Built-in agent types; policy data may define more.
const (
	TypeCoding       = "coding"
	TypeTesting      = "testing"
	TypeDeployment   = "deployment"
	TypeDataPipeline = "data-pipeline"
)

// Agent is a registered non-human identity. It carries no secrets: tokens
// live in the store, hashed.
type Agent struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	Owner        string            `json:"owner"`
	Capabilities []string          `json:"capabilities"`
	Tier         Tier              `json:"tier"`
	State        State             `json:"state"`
	Environments []string          `json:"environments"`
	Namespaces   []string          `json:"namespaces"`
	Principals   []string          `json:"principals"`
	Labels       map[string]string `json:"labels,omitempty"`
	ExpiresAt    *time.Time        `json:"expires_at,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	// Version increments on every change; updates compare it (optimistic locking).
	Version int64 `json:"version"`
}

var (
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	typePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

// Validate checks the agent's fields; errors are apperr.KindInvalid and name
// the field.
func (a *Agent) Validate() error {
	if !namePattern.MatchString(a.Name) {
		return apperr.Invalid("name %q must be 1-63 lowercase letters, digits, '.', '_' or '-'", a.Name)
	}
	if !typePattern.MatchString(a.Type) {
		return apperr.Invalid("type %q must be a lowercase word such as coding, testing, deployment, data-pipeline", a.Type)
	}
	if strings.TrimSpace(a.Owner) == "" || len(a.Owner) > 256 {
		return apperr.Invalid("owner is required (the accountable human or team)")
	}
	if a.Tier.Rank() < 0 {
		return apperr.Invalid("tier %q is not one of new, established, trusted", a.Tier)
	}
	switch a.State {
	case StateActive, StateSuspended, StateKilled, StateDecommissioned:
	default:
		return apperr.Invalid("state %q is not one of active, suspended, killed, decommissioned", a.State)
	}
	seen := map[string]bool{}
	for i, p := range a.Principals {
		if err := ValidatePrincipal(p); err != nil {
			return apperr.Invalid("principals[%d]: %s", i, err.Error())
		}
		if seen[p] {
			return apperr.Invalid("principal %q is listed twice", p)
		}
		seen[p] = true
	}
	for field, list := range map[string][]string{"capabilities": a.Capabilities, "environments": a.Environments, "namespaces": a.Namespaces} {
		if len(list) > 64 {
			return apperr.Invalid("%s has more than 64 entries", field)
		}
		for _, v := range list {
			if v == "" || len(v) > 253 {
				return apperr.Invalid("%s has an empty or over-long entry", field)
			}
		}
	}
	return nil
}

// ValidatePrincipal checks that p is a principal in its canonical form
// (package principal): "github:octo-bot[bot]", "k8s:system:serviceaccount:ci:agent".
func ValidatePrincipal(p string) error {
	c, err := principal.Canonical(p)
	if err != nil {
		return apperr.Invalid("principal %q %s (principals look like github:login, github-app:slug, gitlab:user, k8s:system:serviceaccount:ns:name, argocd:account)", p, err.Error())
	}
	if c != p {
		return apperr.Invalid("principal %q is not in its canonical form %q", p, c)
	}
	return nil
}

// CanonicalPrincipals returns the canonical form of each principal, or an
// invalid-input error naming the first that is not a principal. Two
// spellings of one principal are reported as listed twice.
func CanonicalPrincipals(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	seen := map[string]int{}
	for i, p := range list {
		c, err := principal.Canonical(p)
		if err != nil {
			return nil, apperr.Invalid("principals[%d] %q %s", i, p, err.Error())
		}
		if j, ok := seen[c]; ok {
			return nil, apperr.Invalid("principals[%d] %q and principals[%d] %q are the same principal %q", j, list[j], i, p, c)
		}
		seen[c] = i
		out = append(out, c)
	}
	return out, nil
}

// Expired reports whether the agent's optional expiry has passed.
func (a *Agent) Expired(now time.Time) bool {
	return a.ExpiresAt != nil && !now.Before(*a.ExpiresAt)
}

// Ref is the short form of an agent used in decisions and audit records.
type Ref struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Owner string `json:"owner"`
	Tier  Tier   `json:"tier"`
}

// Ref returns the agent's short form.
func (a *Agent) Ref() Ref {
	return Ref{ID: a.ID, Name: a.Name, Type: a.Type, Owner: a.Owner, Tier: a.Tier}
}
