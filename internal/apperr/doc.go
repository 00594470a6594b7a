// Package apperr defines the typed errors shared by every agentgate package.
//
// Each error carries a Kind; the HTTP layer maps kinds to status codes in one
// place (see internal/server), so packages below it never think about HTTP.
package apperr
