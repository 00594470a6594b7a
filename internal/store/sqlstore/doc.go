// Package sqlstore implements the store contract (internal/store) once, over
// database/sql, for every SQL backend.
//
// A backend package opens a *sql.DB with its driver and hands it to New with
// a Dialect: the backend's name, its embedded migrations, and the handful of
// places where the SQL differs (row locks, how audit appends are serialised,
// how a unique violation looks). All statements use $1, $2 ... placeholders,
// which PostgreSQL (pgx) and SQLite (modernc.org/sqlite) both bind by
// position.
//
// Portable column types: times are BIGINT unix microseconds in UTC (columns
// named *_us; the GCRA state is in nanoseconds, tat_ns, to match
// internal/quota exactly), JSON is TEXT, booleans are INTEGER 0/1.
//
// Every method works on the Store itself (autocommit; methods that need
// several statements to be atomic open their own transaction) and on the
// transaction-bound Queries passed to InTx, through the same code.
//
// Concurrency:
//   - Quota charges of one agent are serialised by a per-agent lock row read
//     FOR UPDATE (PostgreSQL) or by SQLite's single writer, so they are exact
//     across replicas.
//   - Audit appends are serialised by a transaction-scoped advisory lock
//     (PostgreSQL) or by SQLite's single writer; the chain head is read and
//     the next record inserted under it.
//   - On single-writer backends (SQLite) the store admits one writing
//     transaction at a time in Go, ahead of SQLite's busy handler, so that
//     writers queue in order instead of polling.
//
// Round trips: where the dialect pipelines (PostgreSQL), a transaction
// sends statements that need no answer in between together — a lock with
// the reads it guards, a quota charge's write with the next statement, the
// reads PrepareCharge queues with the delivery's claim — and a write that
// fails on its way leaves the transaction unable to commit (pipeline.go).
//
// Inside InTx, use only the Queries passed to the function: a write on the
// Store itself would wait for the transaction that is waiting for it. Within
// one transaction, charge quotas before appending audit records (the order a
// decision takes), so that two transactions never wait for each other's locks.
//
// The audit table is append-only: no code path updates or deletes it.
package sqlstore
