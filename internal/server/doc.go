// Package server is agentgate's HTTP surface (design §4) on gin: webhook
// receivers for every registered provider, the /api/v1 operator API with
// bearer-token roles, health, readiness and metrics. Errors from every layer
// are mapped to HTTP status codes in one place (errors.go).
package server
