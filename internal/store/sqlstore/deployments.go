package sqlstore

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// RecordDeployment stores a successful deployment. ErrConflict if the id
// exists, so a redelivered event is recorded once.
func (x *queries) RecordDeployment(ctx context.Context, d store.Deployment) error {
	if d.ID == "" || d.Provider == "" || d.Repo == "" || d.Environment == "" {
		return apperr.Invalid("a deployment needs an id, provider, repo and environment")
	}
	handles, err := encodeJSON("deployment handles", d.Handles)
	if err != nil {
		return err
	}
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO deployments (id, provider, repo, environment, sha, ref, agent_id, principal, handles, at_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			d.ID, d.Provider, d.Repo, d.Environment, d.SHA, d.Ref, d.AgentID, d.Principal, handles, micros(d.At))
		if err != nil {
			return fmt.Errorf("sqlstore: record deployment %q: %w", d.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("deployment %q exists: %w", d.ID, store.ErrConflict)
		}
		return nil
	})
}

// ListDeployments returns one target's deployments, newest first.
func (x *queries) ListDeployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = 20
	case limit > 500:
		limit = 500
	}
	rows, err := x.conn().QueryContext(ctx, `SELECT id, provider, repo, environment, sha, ref, agent_id, principal, handles, at_us
		FROM deployments WHERE provider = $1 AND repo = $2 AND environment = $3
		ORDER BY at_us DESC, id DESC LIMIT $4`, f.Provider, f.Repo, f.Environment, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list deployments: %w", err)
	}
	defer rows.Close()
	var out []store.Deployment
	for rows.Next() {
		var d store.Deployment
		var handles string
		var at int64
		if err := rows.Scan(&d.ID, &d.Provider, &d.Repo, &d.Environment, &d.SHA, &d.Ref, &d.AgentID, &d.Principal, &handles, &at); err != nil {
			return nil, fmt.Errorf("sqlstore: scan deployment: %w", err)
		}
		if err := decodeJSON("deployment handles", handles, &d.Handles); err != nil {
			return nil, err
		}
		d.At = fromMicros(at)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list deployments: %w", err)
	}
	return out, nil
}
