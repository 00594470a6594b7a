package providers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
)

// Delivery is an authenticated, parsed webhook delivery.
type Delivery struct {
	// ID is the sender's delivery id, used for de-duplication.
	ID string
	// Events are the normalized events it carries; none means the
	// delivery is acknowledged and ignored (an event type not governed).
	Events []event.Event
	// Ignored says why a delivery carries no events, for the answer and metrics.
	Ignored string
}

// Provider verifies and parses one sender's webhooks.
type Provider interface {
	// Name is the path segment: POST /webhooks/{name}.
	Name() string
	// Verify authenticates a delivery from its headers and raw body. It
	// fails closed: with no secret configured every delivery is refused.
	// Errors are apperr.KindUnauthenticated.
	Verify(h http.Header, body []byte) error
	// Parse turns a verified delivery into events. Malformed input is
	// apperr.KindInvalid with a message that says what is wrong.
	Parse(h http.Header, body []byte) (Delivery, error)
}

// Resolver is implemented by providers whose payloads do not always name
// the actor, so that a parsed event must be completed from the provider's
// API before it is decided (a deployment made with a workflow's
// GITHUB_TOKEN names the token, and the run's actor must be looked up).
// Resolve changes the event in place. When the look-up fails it leaves the
// event as parsed, which must fail closed (a machine identity no agent
// holds), and returns the error for the log.
type Resolver interface {
	Resolve(ctx context.Context, ev *event.Event) error
}

// Decision is what an Enforcer needs of a decision.
type Decision struct {
	DecisionID string
	// Outcome is the verdict; Effective is what to enforce (allow,
	// deny, approval_required): they differ under warn and dryrun.
	Outcome   event.Outcome
	Effective event.Outcome
	// Reasons and Warnings are "rule: message" lines for the sender.
	Reasons    []string
	Warnings   []string
	ApprovalID string
	// AgentName is the agent's name, empty for humans.
	AgentName string
	// Enforcement is the policy's mode: enforce, warn or dryrun.
	Enforcement string
}

// DecideFunc decides one event in the core's pipeline; deliveryID
// de-duplicates retried calls.
type DecideFunc func(ctx context.Context, ev event.Event, deliveryID string) (Decision, error)

// CommitLinker is implemented by providers whose web UI shows a commit:
// the link an approval message gives the reviewer, "" when there is none.
type CommitLinker interface {
	CommitURL(repo, sha string) string
}

// Admitter is implemented by providers whose sender speaks its own
// synchronous protocol and needs the answer in it (a Kubernetes
// AdmissionReview): the server mounts AdmissionHandler at AdmissionPath.
type Admitter interface {
	AdmissionPath() string
	AdmissionHandler(decide DecideFunc) http.Handler
}

// Enforcer carries a decision back to the provider (cancel a run, answer a
// deployment callback, publish a check run). The core calls it after the
// webhook was answered, retries it with back-off on any error but a
// *PermanentError (waiting at least what a RetryDelayer error asks), and
// audits the final outcome. It must be idempotent: a retried call may
// repeat one that half-succeeded.
// It returns ErrNoAction without calling out when the event needs no
// enforcement.
type Enforcer interface {
	Enforce(ctx context.Context, ev event.Event, d Decision) error
}

// SyncGate is implemented by providers whose CI jobs ask agentgate and wait
// for the answer (admission gate in a GitLab deploy job, the Argo CD
// PreSync hook): POST /<provider>/gate answers 200 allow, 403 deny or 202
// with an approval to poll at GET /<provider>/gate/{id}.
type SyncGate interface {
	// GateRequest authenticates the job from the request headers (its
	// OIDC ID token, say) and returns the event it asks about, with an id
	// that is the same when the same job asks again (de-duplication) and
	// a scope naming what the caller may poll (its project or app).
	GateRequest(ctx context.Context, h http.Header) (ev event.Event, deliveryID, scope string, err error)
}

// GateAliases is implemented by a SyncGate served under more paths than
// /<provider>/gate (the design's /argo/presync).
type GateAliases interface {
	GateAliases() []string
}

// Releaser lets a change held for human approval go on, or refuses it, when
// the approval is resolved (approved, rejected, expired, cancelled). ev is
// the event that was held, with the provider's handles.
type Releaser interface {
	Release(ctx context.Context, ev event.Event, approved bool, comment string) error
}

// ErrNoAction is what Enforce returns when the event needs no call to the
// provider: the core then records nothing (an enforcement record for every
// allowed event would double the audit log for no information).
var ErrNoAction = errors.New("nothing to enforce")

// RetryDelayer is implemented by enforcement errors that know how long the
// provider asked to wait (a Retry-After header, a rate-limit reset).
type RetryDelayer interface {
	RetryDelay() time.Duration
}

// RetryableError is a failed call worth retrying, with the wait the
// provider asked for (zero when it named none).
type RetryableError struct {
	Err  error
	Wait time.Duration
}

var _ RetryDelayer = (*RetryableError)(nil)

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// RetryDelay implements RetryDelayer.
func (e *RetryableError) RetryDelay() time.Duration { return e.Wait }

// RetryAfter reports how long the provider asked to wait before retrying
// the call that failed with err; ok is false when err carries no wait.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryableError
	if errors.As(err, &r) && r.Wait > 0 {
		return r.Wait, true
	}
	return 0, false
}

// Clip cuts s to at most max bytes without splitting a UTF-8 sequence, for
// fields a provider copies into events and API calls.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}

// PermanentError marks an enforcement error that retrying cannot fix (a
// 404 or 422 from the provider); the core stops retrying and records it.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Registry is the set of mounted providers, keyed by name.
type Registry struct {
	byName map[string]Provider
}

// NewRegistry builds a registry; two providers with one name is an error.
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{byName: map[string]Provider{}}
	for _, p := range ps {
		if _, dup := r.byName[p.Name()]; dup {
			return nil, fmt.Errorf("providers: %q registered twice", p.Name())
		}
		r.byName[p.Name()] = p
	}
	return r, nil
}

// Get returns the named provider.
func (r *Registry) Get(name string) (Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// Names lists the registered providers, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// VerifyHMACSHA256 checks a "sha256=<hex>" signature of body under secret in
// constant time. An empty secret refuses everything.
func VerifyHMACSHA256(secret []byte, signature string, body []byte) error {
	if len(secret) == 0 {
		return apperr.New(apperr.KindUnauthenticated, "webhook secret is not configured; refusing every delivery")
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return apperr.New(apperr.KindUnauthenticated, "missing or malformed signature (want sha256=<hex>)")
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return apperr.New(apperr.KindUnauthenticated, "malformed signature (want sha256=<64 hex digits>)")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return apperr.New(apperr.KindUnauthenticated, "signature does not match")
	}
	return nil
}

// SignHMACSHA256 returns the "sha256=<hex>" signature of body (for senders and tests).
func SignHMACSHA256(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
