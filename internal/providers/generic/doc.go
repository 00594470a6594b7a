// Package generic is the provider for POST /webhooks/generic: any CI system
// (Jenkins, Buildkite, a script) posts the normalized event as JSON, signed
// with HMAC-SHA256 over the raw body.
//
// Headers:
//
//	X-Agentgate-Signature-256: sha256=<hex HMAC-SHA256 of the body>
//	X-Agentgate-Delivery:      <unique id of this delivery; retries reuse it>
//
// Body: one event.Event as JSON (see docs/api.md). Unknown fields are
// refused so that a typo does not silently weaken a decision.
package generic
