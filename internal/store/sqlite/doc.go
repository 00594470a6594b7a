// Package sqlite opens agentgate's embedded SQLite store (modernc.org/sqlite,
// no cgo) over the shared SQL layer in internal/store/sqlstore.
//
// The database runs in WAL mode, so readers never wait for the writer. Write
// transactions begin IMMEDIATE (they take the write lock up front, so a
// transaction never fails half-way on a lock upgrade) and the store admits
// one at a time in Go; busy_timeout covers other processes. Commits are
// durable (synchronous=FULL) unless Options.Synchronous says NORMAL, which
// keeps the database consistent but may lose the last commits on power loss.
package sqlite
