// Package postgres opens agentgate's PostgreSQL store (pgx through
// database/sql) over the shared SQL layer in internal/store/sqlstore, for
// running several replicas against one database.
//
// Quota charges of one agent serialise on the agent's lock row (SELECT ...
// FOR UPDATE); audit appends serialise on a transaction-scoped advisory lock;
// migrations run under a session advisory lock, so replicas that start
// together migrate one at a time. Inside a transaction, statements that
// need no answer in between go as one pgx batch (pipeline mode) on the
// transaction's connection: one round trip for all of them.
package postgres
