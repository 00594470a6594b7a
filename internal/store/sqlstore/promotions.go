package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// CreateProposal stores p unless its agent has a pending proposal, which
// is returned instead (created false). The insert does nothing on a
// conflict rather than failing, so that it never aborts a caller's
// PostgreSQL transaction.
func (x *queries) CreateProposal(ctx context.Context, p store.Proposal) (stored store.Proposal, created bool, err error) {
	if p.ID == "" || p.AgentID == "" || p.State != store.ProposalPending {
		return store.Proposal{}, false, apperr.Invalid("a proposal needs an id, an agent and the pending state")
	}
	body, err := encodeJSON("proposal", p)
	if err != nil {
		return store.Proposal{}, false, err
	}
	err = x.atomic(ctx, false, func(q *queries) error {
		for range createRollbackTries {
			res, err := q.conn().ExecContext(ctx, `INSERT INTO promotion_proposals (id, agent_id, state, created_at_us, body)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, p.ID, p.AgentID, string(p.State), micros(p.CreatedAt), body)
			if err != nil {
				return fmt.Errorf("sqlstore: create proposal %q: %w", p.ID, err)
			}
			if n, err := affected(res); err != nil {
				return err
			} else if n == 1 {
				stored, created = p, true
				return nil
			}
			var one int
			err = q.conn().QueryRowContext(ctx, `SELECT 1 FROM promotion_proposals WHERE id = $1`, p.ID).Scan(&one)
			switch {
			case err == nil:
				return fmt.Errorf("proposal %q exists: %w", p.ID, store.ErrConflict)
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlstore: create proposal %q: %w", p.ID, err)
			}
			pending, err := scanBody[store.Proposal](q.conn().QueryRowContext(ctx,
				`SELECT body FROM promotion_proposals WHERE agent_id = $1 AND state = 'pending'`, p.AgentID), "proposal")
			switch {
			case err == nil:
				stored = pending
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlstore: pending proposal of %q: %w", p.AgentID, err)
			}
			// The pending one was resolved meanwhile: insert again.
		}
		return fmt.Errorf("sqlstore: create proposal %q: the agent's pending proposal kept changing", p.ID)
	})
	if err != nil {
		return store.Proposal{}, false, err
	}
	return stored, created, nil
}

// GetProposal returns the proposal or ErrNotFound.
func (x *queries) GetProposal(ctx context.Context, id string) (store.Proposal, error) {
	return getProposal(ctx, x.conn(), id, "")
}

func getProposal(ctx context.Context, q querier, id, suffix string) (store.Proposal, error) {
	return getBody[store.Proposal](ctx, q, "promotion_proposals", "proposal", id, suffix)
}

// ListProposals returns matching proposals, newest first.
func (x *queries) ListProposals(ctx context.Context, f store.ProposalFilter) ([]store.Proposal, error) {
	var w where
	if f.State != "" {
		w.add("state = ?", string(f.State))
	}
	if f.AgentID != "" {
		w.add("agent_id = ?", f.AgentID)
	}
	query := `SELECT body FROM promotion_proposals` + w.clause() + ` ORDER BY created_at_us DESC, id DESC` + limitClause(f.Limit, &w.args)
	return queryBodies[store.Proposal](ctx, x.conn(), "proposal", query, w.args...)
}

// ResolveProposal moves a pending proposal to state, compare-and-set.
func (x *queries) ResolveProposal(ctx context.Context, id string, state store.ProposalState, by, note string, at time.Time) (store.Proposal, error) {
	switch state {
	case store.ProposalApplied, store.ProposalRefused, store.ProposalWithdrawn:
	default:
		return store.Proposal{}, apperr.Invalid("a proposal is resolved as applied, refused or withdrawn, not %q", state)
	}
	var out store.Proposal
	err := x.atomic(ctx, false, func(q *queries) error {
		cur, err := getProposal(ctx, q.conn(), id, q.s.dialect.ForUpdate)
		if err != nil {
			return err
		}
		if cur.State != store.ProposalPending {
			out = cur
			return fmt.Errorf("proposal %s is already %s: %w", id, cur.State, store.ErrConflict)
		}
		at = at.UTC()
		cur.State, cur.ResolvedBy, cur.Note, cur.ResolvedAt = state, by, note, &at
		body, err := encodeJSON("proposal", cur)
		if err != nil {
			return err
		}
		res, err := q.conn().ExecContext(ctx, `UPDATE promotion_proposals SET state = $2, body = $3 WHERE id = $1 AND state = 'pending'`,
			id, string(state), body)
		if err != nil {
			return fmt.Errorf("sqlstore: resolve proposal %q: %w", id, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("proposal %s is no longer pending: %w", id, store.ErrConflict)
		}
		out = cur
		return nil
	})
	return out, err
}
