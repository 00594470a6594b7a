package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

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
		next, args, err := q.seal(ctx, r)
		if err != nil {
			return err
		}
		if _, err := q.conn().ExecContext(ctx, insertAudit, args...); err != nil {
			return fmt.Errorf("sqlstore: append audit record %d: %w", r.Seq, err)
		}
		q.st.head = &next
		return nil
	})
}

// insertAudit stores a sealed record; its arguments are seal's.
const insertAudit = `INSERT INTO audit_log
	(seq, id, at_us, at_mono_us, lag_max_us, kind, agent_id, owner, outcome, provider, hash, body)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// seal seals r after the chain head (taking the chain's lock) and returns
// the head it makes and the arguments of insertAudit. The caller sets
// q.st.head to the new head once the record is written.
func (q *queries) seal(ctx context.Context, r *audit.Record) (auditHead, []any, error) {
	head, err := q.lockAuditHead(ctx)
	if err != nil {
		return auditHead{}, nil, err
	}
	body, err := audit.Seal(r, head.seq, head.hash)
	if err != nil {
		return auditHead{}, nil, err
	}
	at := micros(r.Time)
	next := auditHead{seq: r.Seq, hash: r.Hash, monoUs: max(head.monoUs, at)}
	next.lagMaxUs = max(head.lagMaxUs, next.monoUs-at)
	outcome := ""
	if r.Decision != nil {
		outcome = r.Decision.Outcome
	}
	return next, []any{r.Seq, r.ID, at, next.monoUs, next.lagMaxUs, string(r.Kind), r.AgentID, r.Owner, outcome, r.Provider, r.Hash, string(body)}, nil
}

// AppendDecision appends d's record, records its input and finishes its
// delivery. Where the backend has writable CTEs the three are one
// statement (appendDecisionSQL); elsewhere they are the three statements
// of AppendAudit, RecordInput and FinishDelivery in one transaction.
func (x *queries) AppendDecision(ctx context.Context, d store.DecisionWrite) error {
	switch {
	case d.Record == nil:
		return apperr.Invalid("audit record is nil")
	case d.Delivery != nil && d.Answer == nil:
		return apperr.Invalid("delivery %s/%s has no answer", d.Delivery.Provider, d.Delivery.ID)
	}
	counters, err := decisionCounters(d.Counters)
	if err != nil {
		return err
	}
	return x.atomic(ctx, false, func(q *queries) error {
		if !q.s.dialect.WritableCTEs {
			if err := q.AppendAudit(ctx, d.Record); err != nil {
				return err
			}
			if d.Input != nil {
				if err := q.RecordInput(ctx, d.Record.Seq, d.InputAt, d.Input); err != nil {
					return err
				}
			}
			if d.Delivery != nil {
				answer, err := decisionAnswer(d)
				if err != nil {
					return err
				}
				if err := q.FinishDelivery(ctx, d.Delivery.Provider, d.Delivery.ID, answer); err != nil {
					return err
				}
			}
			for i, c := range d.Counters {
				n, err := q.IncrCounter(ctx, c.Key, c.Window, c.At)
				if err != nil {
					return err
				}
				counters[i].n = n
			}
			setCounts(d.Counters, counters)
			return nil
		}
		next, args, err := q.seal(ctx, d.Record)
		if err != nil {
			return err
		}
		if d.Input != nil {
			args = append(args, micros(d.InputAt), d.Input)
		}
		if d.Delivery != nil {
			answer, err := decisionAnswer(d)
			if err != nil {
				return err
			}
			args = append(args, nullBytes(answer), d.Delivery.Provider, d.Delivery.ID)
		}
		dest := make([]any, 1, 1+len(counters))
		var finished int64
		dest[0] = &finished
		for i := range counters {
			c := &counters[i]
			args = append(args, c.key, c.start, c.end)
			dest = append(dest, &c.n)
		}
		// Sent with the transaction's next statement or its commit: the
		// counts are read then, before the caller is answered. The next
		// append seals after this record meanwhile.
		delivery := d.Delivery
		if err := q.later(ctx, PipeStmt{
			What:  fmt.Sprintf("append decision record %d", d.Record.Seq),
			Query: appendDecisionSQL(d.Input != nil, delivery != nil, len(counters)), Args: args,
			Read: func(rows Rows) error {
				if err := scanOne(rows, dest...); err != nil {
					return err
				}
				if delivery != nil && finished == 0 {
					return fmt.Errorf("delivery %s/%s: %w", delivery.Provider, delivery.ID, store.ErrNotFound)
				}
				setCounts(d.Counters, counters)
				return nil
			},
		}); err != nil {
			return err
		}
		q.st.head = &next
		return nil
	})
}

// decisionAnswer builds the answer of d's delivery from its sealed record.
func decisionAnswer(d store.DecisionWrite) ([]byte, error) {
	answer, err := d.Answer(d.Record)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: answer of delivery %s/%s: %w", d.Delivery.Provider, d.Delivery.ID, err)
	}
	return answer, nil
}

// appendDecisionSQL is insertAudit with, as writable CTEs, the input's
// insert, the delivery's update and the counters' upserts; it returns how
// many deliveries it finished (0 without one) and each counter's new
// count. Its parameters are insertAudit's twelve, then those of each part
// present, in that order: the input's time and body; the delivery's
// answer, provider and id; each counter's key, window start and end.
// PostgreSQL runs every data-modifying CTE to completion whether or not
// the query reads it.
func appendDecisionSQL(input, delivery bool, counters int) string {
	var b strings.Builder
	b.WriteString("WITH a AS (" + insertAudit + ")")
	n := 12
	next := func() int { n++; return n }
	if input {
		fmt.Fprintf(&b, ", i AS (INSERT INTO decision_inputs (seq, at_us, body) VALUES ($1, $%d, $%d))", next(), next())
	}
	if delivery {
		fmt.Fprintf(&b, ", d AS (UPDATE deliveries SET result = $%d WHERE provider = $%d AND id = $%d RETURNING 1)", next(), next(), next())
	}
	for i := range counters {
		fmt.Fprintf(&b, ", c%d AS (INSERT INTO counters (key, window_start_us, window_end_us, n) VALUES ($%d, $%d, $%d, 1)"+
			" ON CONFLICT (key, window_start_us) DO UPDATE SET n = counters.n + 1 RETURNING n)", i, next(), next(), next())
	}
	if delivery {
		b.WriteString(" SELECT (SELECT count(*) FROM d)")
	} else {
		b.WriteString(" SELECT 0")
	}
	for i := range counters {
		fmt.Fprintf(&b, ", (SELECT n FROM c%d)", i)
	}
	return b.String()
}

// decisionCounter is a CounterIncr's window, checked, and its new count.
type decisionCounter struct {
	key        string
	start, end int64
	n          int64
}

// decisionCounters checks a decision's counters: each a valid window, no
// key twice (one statement cannot add to one row twice).
func decisionCounters(cs []store.CounterIncr) ([]decisionCounter, error) {
	out := make([]decisionCounter, len(cs))
	for i, c := range cs {
		start, end, err := counterWindow(c.Window, c.At)
		if err != nil {
			return nil, err
		}
		for _, prev := range cs[:i] {
			if prev.Key == c.Key {
				return nil, apperr.Invalid("counter %q is counted twice in one decision", c.Key)
			}
		}
		out[i] = decisionCounter{key: c.Key, start: start, end: end}
	}
	return out, nil
}

// setCounts hands each counter's new count to its caller.
func setCounts(cs []store.CounterIncr, counted []decisionCounter) {
	for i, c := range cs {
		if c.N != nil {
			*c.N = counted[i].n
		}
	}
}

// lockAuditHead takes the audit chain's lock, where the dialect has one,
// and returns the chain head. Both are asked once per transaction: the lock
// is held until the transaction ends, so no other append can move the head
// but this transaction's own, which it remembers.
func (q *queries) lockAuditHead(ctx context.Context) (auditHead, error) {
	st := q.st
	if st.head != nil {
		return *st.head, nil
	}
	// The lock and the head share a round trip where the dialect
	// pipelines; the head is read after the lock is granted.
	stmts := make([]PipeStmt, 0, 2)
	if lock := q.s.dialect.AuditLock; lock != "" && !st.auditLocked {
		stmts = append(stmts, PipeStmt{What: "lock audit log", Query: lock})
	}
	head := auditHead{hash: audit.GenesisHash}
	stmts = append(stmts, PipeStmt{
		What:  "read audit head",
		Query: `SELECT seq, hash, at_mono_us, lag_max_us FROM audit_log ORDER BY seq DESC LIMIT 1`,
		Read: func(rows Rows) error {
			err := scanOne(rows, &head.seq, &head.hash, &head.monoUs, &head.lagMaxUs)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // the genesis
			}
			return err
		},
	})
	if err := q.pipe(ctx, stmts...); err != nil {
		return auditHead{}, err
	}
	st.auditLocked = st.auditLocked || q.s.dialect.AuditLock != ""
	return head, nil
}

// QueryAudit returns the records matching q in ascending sequence after
// q.AfterSeq, at most q.Limit (default 100, max 1000). From is inclusive and
// To exclusive; zero times are unbounded. A time window is first narrowed
// to the exact seq range that can hold it (seqBounds), so a window at the
// end of a long log costs an index seek, not a walk from its start.
func (x *queries) QueryAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error) {
	lo, hi, empty, err := x.seqBounds(ctx, q.From, q.To)
	if err != nil || empty {
		return nil, err
	}
	var w where
	w.add("seq > ?", max(q.AfterSeq, lo))
	if hi > 0 {
		w.add("seq < ?", hi)
	}
	// An agent or an owner is a narrower index than a provider; with one
	// given, the provider is written so that no index serves it (SQLite has
	// no statistics to choose by).
	narrow := q.AgentID != "" || q.Owner != ""
	for _, f := range []struct {
		col, val string
		indexed  bool
	}{
		{"agent_id", q.AgentID, true}, {"owner", q.Owner, true},
		{"outcome", q.Outcome, true}, {"provider", q.Provider, !narrow}, {"kind", string(q.Kind), true},
	} {
		switch {
		case f.val == "":
		case f.indexed:
			w.add(f.col+" = ?", f.val)
		default:
			w.add(f.col+" || '' = ?", f.val)
		}
	}
	if q.Kind != "" && q.Kind != audit.KindDecision {
		// Implied by the kind, written out so that the planners may use
		// the partial index of the rare kinds (audit_log_agent_rare).
		w.conds = append(w.conds, "kind <> 'decision'")
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
	order := ` ORDER BY seq LIMIT `
	if q.Newest {
		order = ` ORDER BY seq DESC LIMIT `
	}
	rows, err := x.conn().QueryContext(ctx, `SELECT seq, hash, body FROM audit_log`+w.clause()+order+w.bind(limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query audit: %w", err)
	}
	stored, err := scanStored(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query audit: %w", err)
	}
	if q.Newest {
		slices.Reverse(stored)
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

// seqBounds returns the seq range lo < seq < hi (hi 0: unbounded) outside
// which no record has a time in [from, to), or empty when none can. It is
// exact whatever the writers' clocks did: at_mono_us, the running maximum
// of at_us, is at least a record's own time, so every record before the
// first with at_mono_us >= from is older than from; and lag_max_us at the
// head bounds how far any record's time trails at_mono_us, so every record
// from the first with at_mono_us >= to + lag_max_us on is at least to.
func (x *queries) seqBounds(ctx context.Context, from, to time.Time) (lo, hi int64, empty bool, err error) {
	if from.IsZero() && to.IsZero() {
		return 0, 0, false, nil
	}
	first := func(atMono int64) (int64, bool, error) {
		var seq int64
		err := x.conn().QueryRowContext(ctx, `SELECT seq FROM audit_log WHERE at_mono_us >= $1
			ORDER BY at_mono_us, seq LIMIT 1`, atMono).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("sqlstore: query audit: time bound: %w", err)
		}
		return seq, true, nil
	}
	if !from.IsZero() {
		seq, ok, err := first(micros(from))
		if err != nil || !ok {
			return 0, 0, !ok, err
		}
		lo = seq - 1
	}
	if !to.IsZero() {
		var lag int64
		err := x.conn().QueryRowContext(ctx, `SELECT lag_max_us FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&lag)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, 0, true, nil
		}
		if err != nil {
			return 0, 0, false, fmt.Errorf("sqlstore: query audit: time bound: %w", err)
		}
		bound := micros(to)
		if bound > math.MaxInt64-lag {
			return lo, 0, false, nil
		}
		seq, ok, err := first(bound + lag)
		if err != nil {
			return 0, 0, false, err
		}
		if ok {
			hi = seq
		}
	}
	return lo, hi, false, nil
}

// CountAudit counts the records of q.Kind (and q.AgentID) in [q.From,
// q.To) by outcome and bucket of q.Every. The window is first narrowed to
// its exact seq range, so the count reads only the window's records (of
// the agent's, through its index, when one is given).
func (x *queries) CountAudit(ctx context.Context, q store.AuditCountQuery) ([]store.AuditCount, error) {
	from, to, every := q.From, q.To, q.Every
	if every == 0 {
		every = to.Sub(from)
	}
	if q.Kind == "" || every < time.Microsecond || !from.Before(to) {
		return nil, apperr.Invalid("count audit: need a kind, from before to and a bucket of at least 1µs, got %q [%s, %s) by %s", q.Kind, from, to, every)
	}
	lo, hi, empty, err := x.seqBounds(ctx, from, to)
	if err != nil || empty {
		return nil, err
	}
	var w where
	start, step := micros(from), every.Microseconds()
	bucket := "(at_us - " + w.bind(start) + ") / " + w.bind(step)
	w.add("seq > ?", lo)
	if hi > 0 {
		w.add("seq < ?", hi)
	}
	if q.AgentID != "" {
		w.add("agent_id = ?", q.AgentID)
	}
	w.add("kind = ?", string(q.Kind))
	w.add("at_us >= ?", start)
	w.add("at_us < ?", micros(to))
	rows, err := x.conn().QueryContext(ctx, `SELECT `+bucket+` AS b, outcome, count(*) FROM audit_log`+w.clause()+
		` GROUP BY b, outcome ORDER BY b, outcome`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditCount
	for rows.Next() {
		var b, n int64
		var outcome string
		if err := rows.Scan(&b, &outcome, &n); err != nil {
			return nil, fmt.Errorf("sqlstore: count audit: %w", err)
		}
		out = append(out, store.AuditCount{Start: time.UnixMicro(start + b*step).UTC(), Outcome: outcome, Count: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: count audit: %w", err)
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

// AuditHead returns the newest record's seq, 0 for an empty log.
func (x *queries) AuditHead(ctx context.Context) (int64, error) {
	var seq int64
	err := x.conn().QueryRowContext(ctx, `SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlstore: read audit head: %w", err)
	}
	return seq, nil
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
