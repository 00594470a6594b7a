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

const approvalColumns = `id, state, agent_id, owner, provider, repo, sha, environment, reason, approvers, event,
	decision_seq, created_at_us, expires_at_us, resolved_at_us, resolved_by, resolved_note, used_at_us, used_by`

func scanApproval(sc rowScanner) (store.Approval, error) {
	var a store.Approval
	var state, approvers, ev string
	var created, expires int64
	var resolved, used sql.NullInt64
	if err := sc.Scan(&a.ID, &state, &a.AgentID, &a.Owner, &a.Provider, &a.Repo, &a.SHA, &a.Environment, &a.Reason,
		&approvers, &ev, &a.DecisionSeq, &created, &expires, &resolved, &a.ResolvedBy, &a.ResolvedNote, &used, &a.UsedBy); err != nil {
		return store.Approval{}, err
	}
	a.State = store.ApprovalState(state)
	a.CreatedAt, a.ExpiresAt, a.ResolvedAt, a.UsedAt = fromMicros(created), fromMicros(expires), timePtr(resolved), timePtr(used)
	if err := decodeJSON("approvers", approvers, &a.Approvers); err != nil {
		return store.Approval{}, err
	}
	if err := decodeJSON("approval event", ev, &a.Event); err != nil {
		return store.Approval{}, err
	}
	return a, nil
}

// CreateApproval stores a (State defaults to pending). ErrConflict if the id exists.
func (x *queries) CreateApproval(ctx context.Context, a store.Approval) error {
	if a.State == "" {
		a.State = store.ApprovalPending
	}
	approvers, err := encodeJSON("approvers", a.Approvers)
	if err != nil {
		return err
	}
	ev, err := encodeJSON("approval event", a.Event)
	if err != nil {
		return err
	}
	return x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO approvals (`+approvalColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT DO NOTHING`,
			a.ID, string(a.State), a.AgentID, a.Owner, a.Provider, a.Repo, a.SHA, a.Environment, a.Reason, approvers, ev,
			a.DecisionSeq, micros(a.CreatedAt), micros(a.ExpiresAt), nullMicros(a.ResolvedAt), a.ResolvedBy, a.ResolvedNote,
			nullMicros(a.UsedAt), a.UsedBy)
		if err != nil {
			return fmt.Errorf("sqlstore: create approval %q: %w", a.ID, err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("approval %q exists: %w", a.ID, store.ErrConflict)
		}
		return nil
	})
}

// GetApproval returns the approval or ErrNotFound.
func (x *queries) GetApproval(ctx context.Context, id string) (store.Approval, error) {
	a, err := scanApproval(x.conn().QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = $1`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Approval{}, fmt.Errorf("approval %q: %w", id, store.ErrNotFound)
	case err != nil:
		return store.Approval{}, fmt.Errorf("sqlstore: get approval %q: %w", id, err)
	}
	return a, nil
}

// ListApprovals returns the approvals matching f, newest first.
func (x *queries) ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	var w where
	if f.State != "" {
		w.add("state = ?", string(f.State))
	}
	if f.AgentID != "" {
		w.add("agent_id = ?", f.AgentID)
	}
	if f.Owner != "" {
		w.add("owner = ?", f.Owner)
	}
	if a := f.Action; a != nil {
		w.add("provider = ?", a.Provider)
		w.add("repo = ?", a.Repo)
		w.add("sha = ?", a.SHA)
		w.add("environment = ?", a.Environment)
	}
	rows, err := x.conn().QueryContext(ctx, `SELECT `+approvalColumns+` FROM approvals`+w.clause()+
		` ORDER BY created_at_us DESC, id DESC`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list approvals: %w", err)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list approvals: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list approvals: %w", err)
	}
	return out, nil
}

// UseApproval marks an approved, unused approval used (compare-and-set).
func (x *queries) UseApproval(ctx context.Context, id, by string, at time.Time) (store.Approval, error) {
	var n int64
	err := x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE approvals SET used_at_us = $2, used_by = $3
			WHERE id = $1 AND state = 'approved' AND used_at_us IS NULL`, id, micros(at), by)
		if err != nil {
			return fmt.Errorf("sqlstore: use approval %q: %w", id, err)
		}
		n, err = affected(res)
		return err
	})
	if err != nil {
		return store.Approval{}, err
	}
	a, err := x.GetApproval(ctx, id)
	if err != nil {
		return store.Approval{}, err
	}
	if n == 0 {
		why := "is " + string(a.State)
		if a.UsedAt != nil {
			why = "was used by decision " + a.UsedBy
		}
		return a, fmt.Errorf("approval %q %s: %w", id, why, store.ErrConflict)
	}
	return a, nil
}

// ResolveApproval moves a pending approval to state (compare-and-set). If
// it is no longer pending it returns the stored approval and ErrConflict.
func (x *queries) ResolveApproval(ctx context.Context, id string, state store.ApprovalState, by, note string, at time.Time) (store.Approval, error) {
	switch state {
	case store.ApprovalApproved, store.ApprovalRejected, store.ApprovalExpired, store.ApprovalCancelled:
	default:
		return store.Approval{}, apperr.Invalid("approval cannot be resolved to %q", state)
	}
	var n int64
	err := x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE approvals SET state = $2, resolved_by = $3, resolved_note = $4, resolved_at_us = $5
			WHERE id = $1 AND state = 'pending'`, id, string(state), by, note, micros(at))
		if err != nil {
			return fmt.Errorf("sqlstore: resolve approval %q: %w", id, err)
		}
		n, err = affected(res)
		return err
	})
	if err != nil {
		return store.Approval{}, err
	}
	a, err := x.GetApproval(ctx, id)
	if err != nil {
		return store.Approval{}, err
	}
	if n == 0 {
		return a, fmt.Errorf("approval %q is already %s: %w", id, a.State, store.ErrConflict)
	}
	return a, nil
}

// SetApprovalMessage remembers (or replaces) where an approval was announced.
func (x *queries) SetApprovalMessage(ctx context.Context, approvalID, channel, messageID string) error {
	if approvalID == "" || channel == "" || messageID == "" {
		return apperr.Invalid("an approval message needs an approval id, a channel and a message id")
	}
	return x.write(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO approval_messages (approval_id, channel, message_id) VALUES ($1, $2, $3)
			ON CONFLICT (approval_id) DO UPDATE SET channel = excluded.channel, message_id = excluded.message_id`,
			approvalID, channel, messageID)
		if err != nil {
			return fmt.Errorf("sqlstore: set approval message %q: %w", approvalID, err)
		}
		return nil
	})
}

// ApprovalMessage returns where an approval was announced.
func (x *queries) ApprovalMessage(ctx context.Context, approvalID string) (channel, messageID string, err error) {
	err = x.conn().QueryRowContext(ctx, `SELECT channel, message_id FROM approval_messages WHERE approval_id = $1`, approvalID).Scan(&channel, &messageID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("message of approval %q: %w", approvalID, store.ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("sqlstore: approval message %q: %w", approvalID, err)
	}
	return channel, messageID, nil
}
