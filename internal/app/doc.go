// Package app assembles a running agentgate from a validated configuration:
// store, policy engine, registry, gate, HTTP server and the background work
// that runs on the elected leader. cmd/admission and the end-to-end tests
// build the service through it, so both run exactly the same wiring.
package app
