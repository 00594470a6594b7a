package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/agentgate/agentgate/internal/store/sqlstore"
)

// pipeline is the dialect's Pipeline: stmts as one pgx batch, which pgx
// sends in pipeline mode (every statement written before any answer is
// read) on the transaction's connection.
func pipeline(ctx context.Context, conn any, stmts []sqlstore.PipeStmt) (int, error) {
	c, ok := conn.(*stdlib.Conn)
	if !ok {
		return -1, fmt.Errorf("postgres: pipeline on a %T, not a pgx connection", conn)
	}
	if len(stmts) == 0 {
		return -1, nil
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.Query, st.Args...)
	}
	br := c.Conn().SendBatch(ctx, b)
	failed, err := readBatch(br, stmts)
	// Close reads what is left (and reports a failure to send at all).
	if cerr := br.Close(); err == nil && cerr != nil {
		return -1, cerr
	}
	return failed, err
}

// readBatch reads the results of stmts from br in order, up to the first
// failure.
func readBatch(br pgx.BatchResults, stmts []sqlstore.PipeStmt) (int, error) {
	for i, st := range stmts {
		if st.Read == nil {
			tag, err := br.Exec()
			if err == nil && st.Tag != nil {
				err = st.Tag(tag.String())
			}
			if err != nil {
				return i, err
			}
			continue
		}
		rows, err := br.Query()
		if err != nil {
			return i, err
		}
		err = st.Read(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return i, err
		}
	}
	return -1, nil
}
