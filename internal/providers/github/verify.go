package github

import (
	"net/http"

	"github.com/agentgate/agentgate/internal/providers"
)

// Header names GitHub sends with every delivery.
const (
	HeaderSignature = "X-Hub-Signature-256"
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
)

// Verify implements providers.Provider: X-Hub-Signature-256 must be the
// HMAC-SHA256 of the raw body under the webhook secret, compared in constant
// time. With no secret configured every delivery is refused. Errors are
// apperr.KindUnauthenticated and never contain the secret.
func (p *Provider) Verify(h http.Header, body []byte) error {
	return providers.VerifyHMACSHA256(p.secret, h.Get(HeaderSignature), body)
}
