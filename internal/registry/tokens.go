package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// TokenPrefix marks agent tokens so they are recognisable in secret scanners.
const TokenPrefix = "agt_"

// newToken returns a fresh random token and its stored hash.
func newToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken returns the hex SHA-256 under which a token is stored. Tokens
// are 256-bit random values, so an unsalted fast hash is appropriate.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Rotation is the result of a token rotation.
type Rotation struct {
	Token string `json:"token"`
	// OldValidUntil is when the previous token stops working.
	OldValidUntil time.Time `json:"old_valid_until"`
}

// RotateToken issues a new token for the agent; the old ones keep working
// for the grace period.
func (s *Service) RotateToken(ctx context.Context, actor, id string) (Rotation, error) {
	token, hash, err := newToken()
	if err != nil {
		return Rotation{}, err
	}
	now := s.now().UTC()
	until := now.Add(s.grace)
	err = s.store.InTx(ctx, func(ctx context.Context, q store.Queries) error {
		a, err := getIn(ctx, q, id)
		if err != nil {
			return err
		}
		if a.State == agents.StateDecommissioned {
			return apperr.Conflict("agent %s is decommissioned", a.Name)
		}
		if err := q.ExpireTokens(ctx, a.ID, until); err != nil {
			return err
		}
		if err := q.PutToken(ctx, store.Token{Hash: hash, AgentID: a.ID, CreatedAt: now}); err != nil {
			return err
		}
		return appendChange(ctx, q, audit.KindAdminChange, actor, a, "agent token rotated",
			map[string]string{"change": "rotate", "old_valid_until": until.Format(time.RFC3339)}, now)
	})
	if err != nil {
		return Rotation{}, err
	}
	return Rotation{Token: token, OldValidUntil: until}, nil
}

// Authenticate returns the agent a token belongs to. Unknown, expired and
// decommissioned agents' tokens are unauthenticated; the error never says
// which, so it cannot be used to probe tokens.
func (s *Service) Authenticate(ctx context.Context, token string) (agents.Agent, error) {
	fail := apperr.New(apperr.KindUnauthenticated, "invalid or expired token")
	if !strings.HasPrefix(token, TokenPrefix) {
		return agents.Agent{}, fail
	}
	t, err := s.store.TokenByHash(ctx, HashToken(token))
	if apperr.KindOf(err) == apperr.KindNotFound {
		return agents.Agent{}, fail
	}
	if err != nil {
		return agents.Agent{}, err
	}
	if t.ExpiresAt != nil && !s.now().Before(*t.ExpiresAt) {
		return agents.Agent{}, fail
	}
	a, err := s.store.GetAgent(ctx, t.AgentID)
	if err != nil {
		return agents.Agent{}, err
	}
	if a.State == agents.StateDecommissioned {
		return agents.Agent{}, fail
	}
	return a, nil
}
