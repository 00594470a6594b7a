package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// registryChannel is the channel migration 0013's triggers notify, with
// the changed table's schema as payload, when agents, principals or kill
// switches change.
const registryChannel = "agentgate_registry"

// Reconnection delays of the registry watch.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

// watchRegistry returns the dialect's registry watcher: one connection of
// its own LISTENs on registryChannel and reports the changes made to this
// schema. While it is not listening (before the first connection, between
// a lost one and the next), the store reads the registry from the database
// on every decision.
func watchRegistry(dsn string, log *slog.Logger) func(ctx context.Context, changed func(), live func(bool)) {
	return func(ctx context.Context, changed func(), live func(bool)) {
		delay := watchRetryMin
		for {
			listened, err := listenOnce(ctx, dsn, changed, live)
			live(false)
			if ctx.Err() != nil {
				return
			}
			if listened {
				delay = watchRetryMin
			}
			log.WarnContext(ctx, "postgres: registry watch interrupted; reading agents and kill switches from the database until it resumes",
				"err", err, "retry_in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, watchRetryMax)
		}
	}
}

// listenOnce connects, listens and reports changes until the connection
// fails or ctx ends; listened says whether it got as far as listening.
func listenOnce(ctx context.Context, dsn string, changed func(), live func(bool)) (listened bool, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return false, fmt.Errorf("parse DSN: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "agentgate-registry-watch"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return false, fmt.Errorf("current schema: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+registryChannel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	// Listening from here on: whatever changes now is reported, and what
	// changed before is read afresh (live forgets every answer).
	live(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if n.Payload == schema {
			changed()
		}
	}
}
