package gitlab

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/agentgate/agentgate/internal/apperr"
)

// Header names GitLab sends with deliveries.
const (
	HeaderToken          = "X-Gitlab-Token"
	HeaderEvent          = "X-Gitlab-Event"
	HeaderEventUUID      = "X-Gitlab-Event-UUID"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderInstance       = "X-Gitlab-Instance"
)

// Verify implements providers.Provider: X-Gitlab-Token must equal the
// configured webhook token. GitLab sends the token itself, not a signature,
// so the comparison is of SHA-256 digests in constant time (which also
// hides the token's length). With no token configured every delivery is
// refused. Errors are apperr.KindUnauthenticated and never contain the
// token.
func (p *Provider) Verify(h http.Header, _ []byte) error {
	if len(p.token) == 0 {
		return apperr.New(apperr.KindUnauthenticated, "webhook token is not configured; refusing every delivery")
	}
	got := h.Get(HeaderToken)
	if got == "" {
		return apperr.New(apperr.KindUnauthenticated, "missing %s header (the webhook's secret token)", HeaderToken)
	}
	want, have := sha256.Sum256(p.token), sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		return apperr.New(apperr.KindUnauthenticated, "%s does not match", HeaderToken)
	}
	return nil
}
