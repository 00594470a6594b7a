package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// AddCost stores a cost entry (an empty ID gets a new one). ErrConflict if
// the id exists, so a retried entry is not counted twice.
func (x *queries) AddCost(ctx context.Context, c store.CostEntry) error {
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO costs (id, agent_id, agent_type, owner, provider, repo, minutes, amount, currency, at_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			c.ID, c.AgentID, c.AgentType, c.Owner, c.Provider, c.Repo, c.Minutes, c.Amount, c.Currency, micros(c.At))
		if err != nil {
			return fmt.Errorf("sqlstore: add cost %q: %w", c.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("cost entry %q exists: %w", c.ID, store.ErrConflict)
		}
		return nil
	})
}

// SumCosts totals entries with from <= At < to (a zero to is unbounded),
// grouped by the dimension and currency, ordered by amount descending, then
// key and currency.
func (x *queries) SumCosts(ctx context.Context, by store.CostGroup, from, to time.Time) ([]store.CostRow, error) {
	var col string
	switch by {
	case store.CostByAgent:
		col = "agent_id"
	case store.CostByOwner:
		col = "owner"
	case store.CostByType:
		col = "agent_type"
	default:
		return nil, apperr.Invalid("cost grouping %q is not one of agent, owner, type", by)
	}
	var w where
	w.add("at_us >= ?", micros(from))
	if !to.IsZero() {
		w.add("at_us < ?", micros(to))
	}
	rows, err := x.conn().QueryContext(ctx, `SELECT `+col+`, currency, SUM(minutes), SUM(amount), COUNT(*) FROM costs`+
		w.clause()+` GROUP BY `+col+`, currency ORDER BY SUM(amount) DESC, `+col+`, currency`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sum costs: %w", err)
	}
	defer rows.Close()
	out := []store.CostRow{}
	for rows.Next() {
		var r store.CostRow
		if err := rows.Scan(&r.Key, &r.Currency, &r.Minutes, &r.Amount, &r.Entries); err != nil {
			return nil, fmt.Errorf("sqlstore: sum costs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: sum costs: %w", err)
	}
	return out, nil
}
