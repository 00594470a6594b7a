package rollback

import (
	"strings"
	"time"
)

// Rollback sources.
const (
	SourceWatch   = "watch"
	SourceAlert   = "alert"
	SourceRequest = "request"
)

// Target is what to roll back: one provider's repository (or Argo CD
// application) in one environment.
type Target struct {
	Provider string `json:"provider"`
	// Repo is the repository as deployments record it; for Argo CD the
	// application when no repo is known.
	Repo        string `json:"repo"`
	App         string `json:"app,omitempty"`
	Environment string `json:"environment"`
	Namespace   string `json:"namespace,omitempty"`
	// Action is ActionRollback or ActionNotify.
	Action string `json:"action,omitempty"`
	// Source is SourceWatch, SourceAlert or SourceRequest.
	Source string `json:"source,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Fingerprint and StartsAt identify the alert of an alert target.
	Fingerprint string    `json:"fingerprint,omitempty"`
	StartsAt    time.Time `json:"starts_at,omitzero"`
}

// Key identifies the target for de-duplication: provider, repo and
// environment (case-insensitive for the provider).
func (t Target) Key() string {
	return strings.ToLower(t.Provider) + "\x00" + t.Repo + "\x00" + t.Environment
}
