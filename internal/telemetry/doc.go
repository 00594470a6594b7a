// Package telemetry defines agentgate's Prometheus metrics. Metrics are
// created on a registry passed in by the caller (no global registration), so
// tests and several servers in one process never collide.
package telemetry
