// Package storetest is the conformance suite every store backend must pass
// (Run), and the benchmarks that measure a backend's cost per operation and
// per admission decision (Bench).
//
// A backend's test opens a fresh, empty store for every call of open; the
// suite runs its groups in parallel, so open must be safe to call
// concurrently.
package storetest
