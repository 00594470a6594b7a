// Package store defines agentgate's persistence contract: one small
// interface per role (agents, tokens, kill switches, quotas, deliveries,
// approvals, audit, costs, counters, leader lease) and the transaction that
// binds them, so that a decision's de-duplication, quota charges, approval and
// audit record commit together or not at all.
//
// Two backends implement it over one SQL layer (internal/store/sqlstore):
// SQLite (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx).
// internal/store/storetest is the conformance suite both must pass.
package store
