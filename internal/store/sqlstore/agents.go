package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
)

const agentColumns = `id, name, type, owner, capabilities, tier, state, environments, namespaces, principals, labels, expires_at_us, created_at_us, updated_at_us, version`

// agentRow is an agent's column values, JSON fields encoded.
type agentRow struct {
	caps, envs, namespaces, principals, labels string
}

func encodeAgent(a agents.Agent) (agentRow, error) {
	var r agentRow
	var err error
	for _, f := range []struct {
		what string
		dst  *string
		v    any
	}{
		{"capabilities", &r.caps, a.Capabilities},
		{"environments", &r.envs, a.Environments},
		{"namespaces", &r.namespaces, a.Namespaces},
		{"principals", &r.principals, a.Principals},
		{"labels", &r.labels, a.Labels},
	} {
		if *f.dst, err = encodeJSON(f.what, f.v); err != nil {
			return agentRow{}, err
		}
	}
	return r, nil
}

func scanAgent(sc rowScanner) (agents.Agent, error) {
	var a agents.Agent
	var r agentRow
	var tier, state string
	var expires sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.Name, &a.Type, &a.Owner, &r.caps, &tier, &state, &r.envs, &r.namespaces,
		&r.principals, &r.labels, &expires, &created, &updated, &a.Version); err != nil {
		return agents.Agent{}, err
	}
	a.Tier, a.State = agents.Tier(tier), agents.State(state)
	a.ExpiresAt, a.CreatedAt, a.UpdatedAt = timePtr(expires), fromMicros(created), fromMicros(updated)
	for _, f := range []struct {
		what, src string
		dst       any
	}{
		{"capabilities", r.caps, &a.Capabilities},
		{"environments", r.envs, &a.Environments},
		{"namespaces", r.namespaces, &a.Namespaces},
		{"principals", r.principals, &a.Principals},
		{"labels", r.labels, &a.Labels},
	} {
		if err := decodeJSON(f.what, f.src, f.dst); err != nil {
			return agents.Agent{}, err
		}
	}
	return a, nil
}

// CreateAgent inserts a at Version 1 with its principals. ErrConflict if the
// id or name exists or a principal is bound to another agent.
func (x *queries) CreateAgent(ctx context.Context, a agents.Agent) error {
	r, err := encodeAgent(a)
	if err != nil {
		return err
	}
	return x.atomic(ctx, true, func(q *queries) error {
		res, err := q.conn().ExecContext(ctx, `INSERT INTO agents (`+agentColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)
			ON CONFLICT DO NOTHING`,
			a.ID, a.Name, a.Type, a.Owner, r.caps, string(a.Tier), string(a.State), r.envs, r.namespaces,
			r.principals, r.labels, nullMicros(a.ExpiresAt), micros(a.CreatedAt), micros(a.UpdatedAt))
		if err != nil {
			return fmt.Errorf("sqlstore: create agent %q: %w", a.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("agent id %q or name %q exists: %w", a.ID, a.Name, store.ErrConflict)
		}
		q.registryChanged()
		return q.bindPrincipals(ctx, a.ID, a.Principals)
	})
}

// bindPrincipals binds principals to the agent; ErrConflict if one is bound
// to an agent already.
func (x *queries) bindPrincipals(ctx context.Context, agentID string, principals []string) error {
	for _, p := range principals {
		res, err := x.conn().ExecContext(ctx, `INSERT INTO agent_principals (principal, agent_id) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, p, agentID)
		if err != nil {
			return fmt.Errorf("sqlstore: bind principal %q: %w", p, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("principal %q is bound to another agent: %w", p, store.ErrConflict)
		}
	}
	return nil
}

// GetAgent returns the agent or ErrNotFound.
func (x *queries) GetAgent(ctx context.Context, id string) (agents.Agent, error) {
	a, err := scanAgent(x.conn().QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = $1`, id))
	return a, agentErr("agent", id, err)
}

// GetAgentByName returns the agent or ErrNotFound.
func (x *queries) GetAgentByName(ctx context.Context, name string) (agents.Agent, error) {
	a, err := scanAgent(x.conn().QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE name = $1`, name))
	return a, agentErr("agent named", name, err)
}

// AgentByPrincipal returns the agent the principal is bound to, or ErrNotFound.
func (x *queries) AgentByPrincipal(ctx context.Context, principal string) (agents.Agent, error) {
	a, err := scanAgent(x.conn().QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents
		WHERE id = (SELECT agent_id FROM agent_principals WHERE principal = $1)`, principal))
	return a, agentErr("agent with principal", principal, err)
}

func agentErr(what, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s %q: %w", what, key, store.ErrNotFound)
	default:
		return fmt.Errorf("sqlstore: get %s %q: %w", what, key, err)
	}
}

// ListAgents returns the agents matching f, ordered by name.
func (x *queries) ListAgents(ctx context.Context, f store.AgentFilter) ([]agents.Agent, error) {
	var w where
	if f.Owner != "" {
		w.add("owner = ?", f.Owner)
	}
	if f.Type != "" {
		w.add("type = ?", f.Type)
	}
	if f.State != "" {
		w.add("state = ?", string(f.State))
	}
	if f.Tier != "" {
		w.add("tier = ?", string(f.Tier))
	}
	rows, err := x.conn().QueryContext(ctx, `SELECT `+agentColumns+` FROM agents`+w.clause()+` ORDER BY name`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list agents: %w", err)
	}
	defer rows.Close()
	var out []agents.Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list agents: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list agents: %w", err)
	}
	return out, nil
}

// UpdateAgent stores a's fields and principals as Version+1 if the stored
// Version is a.Version. CreatedAt is kept from the stored agent.
func (x *queries) UpdateAgent(ctx context.Context, a agents.Agent) error {
	r, err := encodeAgent(a)
	if err != nil {
		return err
	}
	return x.atomic(ctx, true, func(q *queries) error {
		res, err := q.conn().ExecContext(ctx, `UPDATE agents SET name = $2, type = $3, owner = $4, capabilities = $5,
			tier = $6, state = $7, environments = $8, namespaces = $9, principals = $10, labels = $11,
			expires_at_us = $12, updated_at_us = $13, version = version + 1
			WHERE id = $1 AND version = $14`,
			a.ID, a.Name, a.Type, a.Owner, r.caps, string(a.Tier), string(a.State), r.envs, r.namespaces,
			r.principals, r.labels, nullMicros(a.ExpiresAt), micros(a.UpdatedAt), a.Version)
		if err != nil {
			if q.s.dialect.IsUniqueViolation(err) {
				return fmt.Errorf("agent name %q is taken: %w", a.Name, store.ErrConflict)
			}
			return fmt.Errorf("sqlstore: update agent %q: %w", a.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			var stored int64
			err := q.conn().QueryRowContext(ctx, `SELECT version FROM agents WHERE id = $1`, a.ID).Scan(&stored)
			if err != nil {
				return agentErr("agent", a.ID, err)
			}
			return fmt.Errorf("agent %q is at version %d, not %d: %w", a.ID, stored, a.Version, store.ErrConflict)
		}
		q.registryChanged()
		if _, err := q.conn().ExecContext(ctx, `DELETE FROM agent_principals WHERE agent_id = $1`, a.ID); err != nil {
			return fmt.Errorf("sqlstore: unbind principals of %q: %w", a.ID, err)
		}
		return q.bindPrincipals(ctx, a.ID, a.Principals)
	})
}
