package event

import (
	"strings"
)

// Kind is what sort of change an event is about.
type Kind string

// Event kinds.
const (
	KindBuild    Kind = "build"
	KindDeploy   Kind = "deploy"
	KindWorkflow Kind = "workflow"
	KindSync     Kind = "sync"
	// KindAPI is an agent's call to an API or a tool, asked about by an
	// API or MCP gateway (the AuthZEN endpoint).
	KindAPI Kind = "api"
)

// Phase says whether an event starts something (and may be charged), ends
// it (and releases what it held, such as an ephemeral environment lease), or
// reports something that already happened (a deployment succeeded, a job
// finished): recorded, with its cost, but never charged, held or refused.
type Phase string

// Event phases. The empty phase means PhaseStart.
const (
	PhaseStart  Phase = "start"
	PhaseEnd    Phase = "end"
	PhaseReport Phase = "report"
)

// HandleAttributeAs is a handle with a meaning to the core: when the gate
// allows an agent's event that carries it ("<kind>/<namespace>/<name>"), it
// records that object as the agent's (store.Attribution), so that what a
// controller later creates from it (the Workflows of a CronWorkflow) is
// decided as the agent's.
const HandleAttributeAs = "attribute_as"

// Actions with a meaning to the core.
const (
	// ActionSucceeded on a deploy or sync event in the report phase
	// records a successful deployment (the history rollback uses).
	ActionSucceeded = "succeeded"
)

// Event is one normalized thing that happened in a provider.
type Event struct {
	// Provider names the source: github, gitlab, argo, argocd, generic.
	Provider string `json:"provider"`
	// Kind is build, deploy, workflow or sync.
	Kind Kind `json:"kind"`
	// Action is the provider's verb (requested, created, completed, ...).
	Action string `json:"action,omitempty"`
	// Phase is start (default) or end.
	Phase Phase `json:"phase,omitempty"`
	// Repo is the repository, project or application, e.g. "acme/api".
	Repo        string `json:"repo,omitempty"`
	Ref         string `json:"ref,omitempty"`
	SHA         string `json:"sha,omitempty"`
	Environment string `json:"environment,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	// Principal is how the provider names the actor, e.g. "github:octo-bot[bot]".
	Principal string `json:"principal"`
	// Initiator is the principal of whom the actor acts for, when the
	// provider's own account data says so (the person who approved a bot's
	// workflow run, a user a service account acts for). It is never read
	// from anything the actor writes (commit messages, inputs, payloads).
	Initiator string `json:"initiator,omitempty"`
	// SessionID is the agent's session, when the provider gives one.
	SessionID string `json:"session_id,omitempty"`
	// Machine is set by a provider when the actor is machine-driven by the
	// provider's own account model (a GitHub Bot sender, a service account).
	Machine bool `json:"machine,omitempty"`
	// NoHold says the CI system does not wait for this event's answer (the
	// change is already under way and another event gates it, such as a
	// GitHub deployment whose protection rule arrives separately). Such an
	// event never creates an approval: approval_required is recorded and
	// answered as allow with a warning.
	NoHold bool `json:"no_hold,omitempty"`
	// Resubmits says the system cannot wait for a human either, but the
	// submitter is told to submit the identical change again once it is
	// approved (a Kubernetes admission request). approval_required refuses
	// it and creates one approval per change (provider, repo, sha,
	// environment and agent); while it is pending a resubmission is refused
	// with the same approval, and once approved one resubmission is
	// admitted.
	Resubmits bool `json:"resubmits,omitempty"`
	// Trigger is what prompted the change, as far as the provider tells.
	Trigger Trigger `json:"trigger,omitempty"`
	// Handles are the provider's identifiers needed to enforce a decision
	// (run id, callback URL, pipeline id, AdmissionReview uid, ...).
	Handles map[string]string `json:"handles,omitempty"`
	// Labels are free-form attributes a policy may read.
	Labels map[string]string `json:"labels,omitempty"`
	// Cost is what the change cost, reported on end events.
	Cost *Cost `json:"cost,omitempty"`
}

// Trigger records why an agent acted.
type Trigger struct {
	// AgentID is an agent id the change claims (an Agent-Id: trailer, an
	// AGENT_ID variable). A claim is not an identity: the principal decides.
	AgentID   string `json:"agent_id,omitempty"`
	Prompt    string `json:"prompt,omitempty"`
	Reasoning string `json:"reasoning,omitempty"`
	// Source is where the trigger came from (commit-trailer, dispatch-input, api, ...).
	Source string `json:"source,omitempty"`
	// TriggeredBy is the human who prompted the agent, when known.
	TriggeredBy string `json:"triggered_by,omitempty"`
}

// Cost is a metered cost of a change.
type Cost struct {
	Minutes  float64 `json:"minutes,omitempty"`
	Amount   float64 `json:"amount,omitempty"`
	Currency string  `json:"currency,omitempty"`
}

// IsEnd reports whether the event ends something that a start event began.
func (e *Event) IsEnd() bool { return e.Phase == PhaseEnd }

// IsReport reports whether the event reports something that already happened.
func (e *Event) IsReport() bool { return e.Phase == PhaseReport }

// LooksMachine reports whether the event's actor looks machine-driven even
// though it matched no registered agent: the provider said so, the principal
// has a bot shape, or the change claims an agent id.
func (e *Event) LooksMachine() bool {
	if e.Machine || e.Trigger.AgentID != "" {
		return true
	}
	return PrincipalLooksMachine(e.Principal)
}

// PrincipalLooksMachine reports whether a principal names a non-human
// account by its shape: a GitHub App or "[bot]" login, a GitLab project or
// group bot user, a Kubernetes service account, an Argo CD project role.
func PrincipalLooksMachine(p string) bool {
	provider, name, ok := strings.Cut(p, ":")
	if !ok {
		return false
	}
	switch provider {
	case "github-app":
		return true
	case "github":
		return strings.HasSuffix(name, "[bot]")
	case "gitlab":
		return isGitLabBot(name)
	case "k8s":
		return strings.HasPrefix(name, "system:serviceaccount:")
	case "argocd":
		return strings.HasPrefix(name, "proj:")
	}
	return false
}

// NameLooksMachine reports whether a bare account name has the shape of a
// machine account under any provider ("x[bot]", a GitLab bot user, a
// Kubernetes service account, an Argo CD project role), for principals
// whose provider has no rule of its own.
func NameLooksMachine(name string) bool {
	return strings.HasSuffix(name, "[bot]") || isGitLabBot(name) ||
		strings.HasPrefix(name, "system:serviceaccount:") || strings.HasPrefix(name, "proj:")
}

// isGitLabBot matches GitLab's project and group access token users,
// project_<id>_bot_<hex> and group_<id>_bot_<hex> (older: project_<id>_bot),
// and service accounts as GitLab names them by default,
// service_account_<hex> and service_account_group_<id>_<hex>: the
// accounts agents (GitLab Duo's composite identities among them) act as.
func isGitLabBot(name string) bool {
	if strings.HasPrefix(name, "service_account_") && len(name) > len("service_account_") {
		return true
	}
	for _, prefix := range []string{"project_", "group_"} {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		digits := 0
		for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
			digits++
		}
		if digits > 0 && strings.HasPrefix(rest[digits:], "_bot") {
			return true
		}
	}
	return false
}
