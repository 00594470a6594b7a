package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Audit query limits (store.AuditQuery.Limit).
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
	// scanPage is how many records ScanAudit reads per query.
	scanPage = 500
)

// AppendAudit seals r after the chain head and stores it, serialised against
// every other append until the transaction ends. r is sealed (Seq, PrevHash,
// Hash, Time) even if storing it then fails.
func (x *queries) AppendAudit(ctx context.Context, r *audit.Record) error {
	if r == nil {
		return apperr.Invalid("audit record is nil")
	}
	return x.atomic(ctx, false, func(q *queries) error {
		if lock := q.s.dialect.AuditLock; lock != "" {
			if _, err := q.conn().ExecContext(ctx, lock); err != nil {
				return fmt.Errorf("sqlstore: lock audit log: %w", err)
			}
		}
		prevSeq, prevHash := int64(0), audit.GenesisHash
		err := q.conn().QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&prevSeq, &prevHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: read audit head: %w", err)
		}
		body, err := audit.Seal(r, prevSeq, prevHash)
		if err != nil {
			return err
		}
		outcome := ""
		if r.Decision != nil {
			outcome = r.Decision.Outcome
		}
		if _, err := q.conn().ExecContext(ctx, `INSERT INTO audit_log
			(seq, id, at_us, kind, agent_id, owner, outcome, provider, hash, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			r.Seq, r.ID, micros(r.Time), string(r.Kind), r.AgentID, r.Owner, outcome, r.Provider, r.Hash, string(body)); err != nil {
			return fmt.Errorf("sqlstore: append audit record %d: %w", r.Seq, err)
		}
		return nil
	})
}

// QueryAudit returns the records matching q in ascending sequence after
// q.AfterSeq, at most q.Limit (default 100, max 1000). From is inclusive and
// To exclusive; zero times are unbounded.
func (x *queries) QueryAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error) {
	var w where
	w.add("seq > ?", q.AfterSeq)
	for _, f := range []struct{ col, val string }{
		{"agent_id", q.AgentID}, {"owner", q.Owner}, {"outcome", q.Outcome}, {"provider", q.Provider}, {"kind", string(q.Kind)},
	} {
		if f.val != "" {
			w.add(f.col+" = ?", f.val)
		}
	}
	if !q.From.IsZero() {
		w.add("at_us >= ?", micros(q.From))
	}
	if !q.To.IsZero() {
		w.add("at_us < ?", micros(q.To))
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultAuditLimit
	case limit > maxAuditLimit:
		limit = maxAuditLimit
	}
	rows, err := x.conn().QueryContext(ctx, `SELECT seq, hash, body FROM audit_log`+w.clause()+
		` ORDER BY seq LIMIT `+w.bind(limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query audit: %w", err)
	}
	stored, err := scanStored(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query audit: %w", err)
	}
	out := make([]audit.Record, 0, len(stored))
	for _, s := range stored {
		r, err := s.Decode()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ScanAudit calls fn for every record after afterSeq in sequence order with
// its stored bytes. It reads a page at a time and calls fn between reads, so
// fn may use the store.
func (x *queries) ScanAudit(ctx context.Context, afterSeq int64, fn func(audit.Stored) error) error {
	for {
		rows, err := x.conn().QueryContext(ctx, `SELECT seq, hash, body FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
			afterSeq, scanPage)
		if err != nil {
			return fmt.Errorf("sqlstore: scan audit: %w", err)
		}
		page, err := scanStored(rows)
		if err != nil {
			return fmt.Errorf("sqlstore: scan audit: %w", err)
		}
		for _, s := range page {
			if err := fn(s); err != nil {
				return err
			}
			afterSeq = s.Seq
		}
		if len(page) < scanPage {
			return nil
		}
	}
}

// scanStored reads (seq, hash, body) rows and closes them.
func scanStored(rows *sql.Rows) ([]audit.Stored, error) {
	defer rows.Close()
	var out []audit.Stored
	for rows.Next() {
		var s audit.Stored
		var body string
		if err := rows.Scan(&s.Seq, &s.Hash, &body); err != nil {
			return nil, err
		}
		s.Body = []byte(body)
		out = append(out, s)
	}
	return out, rows.Err()
}
