package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentgate/agentgate/internal/audit"
)

// copyBatch is how many records one COPY (and transaction) carries.
const copyBatch = 500_000

// fillPostgres tops the log up to n records with COPY, which appends
// about ten times faster over the loopback than one statement per record.
// Each record is sealed by audit.Seal after the one before, exactly as an
// append does, and written with the columns the store's append writes
// (sqlstore's insertAudit), including the running maxima of migration
// 0009; the verification at the end re-checks every hash and link through
// the store's own scan.
func fillPostgres(ctx context.Context, dsn string, n int64) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect for COPY: %w", err)
	}
	defer conn.Close(ctx)
	h := chainHead{hash: audit.GenesisHash}
	err = conn.QueryRow(ctx, `SELECT seq, hash, at_mono_us, lag_max_us FROM audit_log ORDER BY seq DESC LIMIT 1`).
		Scan(&h.seq, &h.hash, &h.monoUs, &h.lagMaxUs)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read the chain head: %w", err)
	}
	start, from := time.Now(), h.seq
	for h.seq < n {
		src := &sealer{head: &h, end: min(h.seq+copyBatch, n)}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, []string{"seq", "id", "at_us", "at_mono_us", "lag_max_us",
				"kind", "agent_id", "owner", "outcome", "provider", "hash", "body"}, src)
			return err
		})
		if err != nil {
			return fmt.Errorf("copy records up to %d: %w", src.end, err)
		}
		fmt.Printf("  %d records, %.0f/s\n", h.seq, float64(h.seq-from)/time.Since(start).Seconds())
	}
	// Statistics for the planner, as after any bulk load
	// (docs/operations.md#backups-and-restore).
	if _, err := conn.Exec(ctx, `ANALYZE audit_log`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// chainHead is the last record written: what the next one seals after.
type chainHead struct {
	seq              int64
	hash             string
	monoUs, lagMaxUs int64
}

// sealer is a pgx.CopyFromSource of the records after head up to end,
// each sealed as it is read.
type sealer struct {
	head *chainHead
	end  int64
	row  []any
	err  error
}

var _ pgx.CopyFromSource = (*sealer)(nil)

func (s *sealer) Next() bool {
	if s.err != nil || s.head.seq >= s.end {
		return false
	}
	r := record(s.head.seq)
	body, err := audit.Seal(r, s.head.seq, s.head.hash)
	if err != nil {
		s.err = err
		return false
	}
	at := r.Time.UnixMicro()
	mono := max(s.head.monoUs, at)
	lag := max(s.head.lagMaxUs, mono-at)
	*s.head = chainHead{seq: r.Seq, hash: r.Hash, monoUs: mono, lagMaxUs: lag}
	s.row = []any{r.Seq, r.ID, at, mono, lag, string(r.Kind), r.AgentID, r.Owner, r.Decision.Outcome, r.Provider, r.Hash, string(body)}
	return true
}

func (s *sealer) Values() ([]any, error) { return s.row, nil }

func (s *sealer) Err() error { return s.err }
