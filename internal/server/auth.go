package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/console"
)

// Caller is an authenticated API caller.
type Caller struct {
	// Name is recorded as the actor in audit records.
	Name string
	Role config.Role
	// Agent is set for agent tokens.
	Agent *agents.Agent
}

// StaticToken is an operator token from configuration, kept as a hash.
type StaticToken struct {
	Name string
	Role config.Role
	hash [sha256.Size]byte
}

// NewStaticToken hashes a configured token.
func NewStaticToken(name string, role config.Role, token string) StaticToken {
	return StaticToken{Name: name, Role: role, hash: sha256.Sum256([]byte(token))}
}

// NewStaticTokenFromHash builds a token from a stored SHA-256 (the
// generated bootstrap token, whose plain value is never kept).
func NewStaticTokenFromHash(name string, role config.Role, sum [sha256.Size]byte) StaticToken {
	return StaticToken{Name: name, Role: role, hash: sum}
}

const ctxCaller = "agentgate.caller"

func callerOf(c *gin.Context) Caller {
	v, _ := c.Get(ctxCaller)
	caller, _ := v.(Caller)
	return caller
}

// authenticate resolves the bearer token: static tokens are compared in
// constant time over their hashes (every one is compared, so timing does
// not reveal which matched); agent tokens are looked up by hash.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		raw = strings.TrimSpace(raw)
		if !ok || raw == "" {
			s.fail(c, apperr.New(apperr.KindUnauthenticated, "missing bearer token"))
			return
		}
		if match := s.staticToken(raw); match != nil {
			c.Set(ctxCaller, Caller{Name: match.Name, Role: match.Role})
			c.Next()
			return
		}
		a, err := s.registry.Authenticate(c.Request.Context(), raw)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Set(ctxCaller, Caller{Name: "agent:" + a.Name, Role: config.RoleAgent, Agent: &a})
		c.Next()
	}
}

// staticToken returns the static token raw is, or nil. Every token is
// compared, in constant time over the hashes, so timing does not reveal
// which one matched.
func (s *Server) staticToken(raw string) *StaticToken {
	sum := sha256.Sum256([]byte(raw))
	var match *StaticToken
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], s.tokens[i].hash[:]) == 1 {
			match = &s.tokens[i]
		}
	}
	return match
}

// consolePerson authenticates a console sign-in: static tokens (viewer,
// operator, admin) are people; an agent's token is refused as such.
func (s *Server) consolePerson(ctx context.Context, raw string) (console.Person, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return console.Person{}, apperr.New(apperr.KindUnauthenticated, "missing token")
	}
	if m := s.staticToken(raw); m != nil {
		return console.Person{Name: m.Name, Role: string(m.Role)}, nil
	}
	if _, err := s.registry.Authenticate(ctx, raw); err == nil {
		return console.Person{}, console.ErrAgentToken
	}
	return console.Person{}, apperr.New(apperr.KindUnauthenticated, "invalid or expired token")
}

// require lets callers with at least role through; agents only reach
// routes that require RoleAgent.
func (s *Server) require(role config.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		caller := callerOf(c)
		if caller.Role.Rank() < role.Rank() || (caller.Role == config.RoleAgent && role != config.RoleAgent) {
			s.fail(c, apperr.Forbidden("this needs the %s role; %s has %s", role, caller.Name, caller.Role))
			return
		}
		c.Next()
	}
}
