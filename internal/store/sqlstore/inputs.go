package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// inputPage is how many inputs ScanInputs reads at a time.
const inputPage = 500

// RecordInput stores one decision's compressed policy input.
func (x *queries) RecordInput(ctx context.Context, seq int64, at time.Time, body []byte) error {
	return x.write(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO decision_inputs (seq, at_us, body) VALUES ($1, $2, $3)`, seq, micros(at), body); err != nil {
			return fmt.Errorf("sqlstore: record input %d: %w", seq, err)
		}
		return nil
	})
}

// ScanInputs walks the inputs of [from, to) in seq order, a page at a
// time; fn runs between reads, so it may use the store.
func (x *queries) ScanInputs(ctx context.Context, from, to time.Time, afterSeq int64, fn func(seq int64, at time.Time, body []byte) error) error {
	lo, hi, empty, err := x.seqBounds(ctx, from, to)
	if err != nil || empty {
		return err
	}
	after := max(afterSeq, lo)
	for {
		var w where
		w.add("seq > ?", after)
		if hi > 0 {
			w.add("seq < ?", hi)
		}
		if !from.IsZero() {
			w.add("at_us >= ?", micros(from))
		}
		if !to.IsZero() {
			w.add("at_us < ?", micros(to))
		}
		rows, err := x.conn().QueryContext(ctx, `SELECT seq, at_us, body FROM decision_inputs`+w.clause()+` ORDER BY seq LIMIT `+w.bind(inputPage), w.args...)
		if err != nil {
			return fmt.Errorf("sqlstore: scan inputs: %w", err)
		}
		type row struct {
			seq, at int64
			body    []byte
		}
		var page []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.seq, &r.at, &r.body); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: scan inputs: %w", err)
			}
			page = append(page, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("sqlstore: scan inputs: %w", err)
		}
		for _, r := range page {
			if err := fn(r.seq, time.UnixMicro(r.at).UTC(), r.body); err != nil {
				return err
			}
			after = r.seq
		}
		if len(page) < inputPage {
			return nil
		}
	}
}

// PurgeInputs deletes up to limit inputs older than before, oldest seq
// first. Inputs have no time index (it would cost every decision a page
// or an index entry): the scan runs in seq order, up to the first record
// of the audit log that is surely not older than before (seqBounds), so
// it reads the purged inputs and at most the few around the bound that a
// lagging clock left out of order.
func (x *queries) PurgeInputs(ctx context.Context, before time.Time, limit int) (int64, error) {
	// hi is 0 (no bound) when the audit log is empty or ends before it.
	_, hi, _, err := x.seqBounds(ctx, time.Time{}, before)
	if err != nil {
		return 0, err
	}
	var w where
	w.add("at_us < ?", micros(before))
	if hi > 0 {
		w.add("seq < ?", hi)
	}
	var n int64
	err = x.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM decision_inputs WHERE seq IN
			(SELECT seq FROM decision_inputs`+w.clause()+` ORDER BY seq LIMIT `+w.bind(limit)+`)`, w.args...)
		if err != nil {
			return fmt.Errorf("sqlstore: purge inputs: %w", err)
		}
		n, err = affected(res)
		return err
	})
	return n, err
}
