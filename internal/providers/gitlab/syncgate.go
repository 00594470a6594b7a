package gitlab

import (
	"context"
	"net/http"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

var _ providers.SyncGate = (*Provider)(nil)

// GateRequest implements providers.SyncGate for `admission gate`: the job's
// ID token (Authorization: Bearer) is verified against the instance's
// JWKS and its claims become the event. A job asking again gets the same
// delivery id, so it is answered from the first decision; it may poll only
// approvals of its own project.
func (p *Provider) GateRequest(ctx context.Context, h http.Header) (event.Event, string, string, error) {
	raw, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	raw = strings.TrimSpace(raw)
	if !ok || raw == "" {
		return event.Event{}, "", "", apperr.New(apperr.KindUnauthenticated, "missing bearer ID token (id_tokens in .gitlab-ci.yml)")
	}
	c, err := p.VerifyIDToken(ctx, raw)
	if err != nil {
		return event.Event{}, "", "", err
	}
	if c.JobID == "" || c.ProjectPath == "" {
		return event.Event{}, "", "", apperr.New(apperr.KindUnauthenticated, "the ID token lacks job_id or project_path")
	}
	ev := GateEvent(c)
	// The scope is the event's repo, as its approvals record it.
	return ev, "gate-job-" + c.JobID, ev.Repo, nil
}
