package argo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Effective outcomes a Verdict carries (gate.Outcome values).
const (
	EffectiveAllow            = event.OutcomeAllow
	EffectiveDeny             = event.OutcomeDeny
	EffectiveApprovalRequired = event.OutcomeApprovalRequired
)

// enforcementWarn is the policy mode whose reasons become warnings.
const enforcementWarn = "warn"

// Admission handler limits.
const (
	// MaxReviewBytes caps an AdmissionReview body read by Handler: an
	// UPDATE carries the object and the old object, each up to etcd's
	// 1.5 MiB.
	MaxReviewBytes = 4 << 20
	// maxTimeout caps the time a review may take whatever ?timeout= says.
	maxTimeout = 30 * time.Second
	// timeoutMargin is kept back from the kube-apiserver's ?timeout= so the
	// answer arrives before it gives up.
	timeoutMargin = 500 * time.Millisecond
)

// Verdict is what the webhook needs of a decision.
type Verdict struct {
	// DecisionID is the audit record of the decision (for audit annotations).
	DecisionID string
	// Effective is what to enforce: allow, deny or approval_required.
	Effective event.Outcome
	// Enforcement is the policy's mode: enforce, warn or dryrun.
	Enforcement string
	// Reasons and Warnings are "rule: message" lines.
	Reasons  []string
	Warnings []string
	// ApprovalID names the approval created for approval_required.
	ApprovalID string
}

// Decider decides on an event; deliveryID de-duplicates retried calls.
type Decider interface {
	Decide(ctx context.Context, ev event.Event, deliveryID string) (Verdict, error)
}

// DeciderFunc adapts a function to Decider.
type DeciderFunc func(ctx context.Context, ev event.Event, deliveryID string) (Verdict, error)

// Decide implements Decider.
func (f DeciderFunc) Decide(ctx context.Context, ev event.Event, deliveryID string) (Verdict, error) {
	return f(ctx, ev, deliveryID)
}

// VerdictOf turns the core's decision into a Verdict.
func VerdictOf(d providers.Decision) Verdict {
	return Verdict{DecisionID: d.DecisionID, Effective: d.Effective, Enforcement: d.Enforcement,
		Reasons: d.Reasons, Warnings: d.Warnings, ApprovalID: d.ApprovalID}
}

var _ providers.Admitter = (*Provider)(nil)

var _ providers.GateAliases = (*Provider)(nil)

// GateAliases implements providers.GateAliases: the PreSync hook's gate is
// also served at /argo/presync.
func (p *Provider) GateAliases() []string { return []string{"/argo/presync"} }

// AdmissionPath implements providers.Admitter: the Workflows admission webhook.
func (p *Provider) AdmissionPath() string { return "/argo/admission" }

// AdmissionHandler implements providers.Admitter.
func (p *Provider) AdmissionHandler(decide providers.DecideFunc) http.Handler {
	return p.Handler(DeciderFunc(func(ctx context.Context, ev event.Event, id string) (Verdict, error) {
		d, err := decide(ctx, ev, id)
		return VerdictOf(d), err
	}))
}

// DeliveryID is the de-duplication id of an admission request: its
// AdmissionReview uid, which the kube-apiserver keeps when it retries a
// webhook call but which is new for every client request.
func DeliveryID(uid string) string { return "admission-" + uid }

// Review answers one AdmissionReview v1 (POST /argo/admission). Workflows,
// CronWorkflows and WorkflowTemplates being created or changed are decided
// by d; anything else is allowed without a decision. A malformed review is
// apperr.KindInvalid (answer 400); a failed decision is returned wrapped
// (answer 5xx, and the webhook's failurePolicy applies).
func (p *Provider) Review(ctx context.Context, body []byte, d Decider) ([]byte, error) {
	rev, err := decodeReview(body)
	if err != nil {
		return nil, err
	}
	req := rev.Request
	log := p.log.With("uid", string(req.UID), "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name)
	if ok, why := p.governed(req); !ok {
		log.DebugContext(ctx, "admission request not governed", "why", why)
		return encodeReview(req, answer{allowed: true, audit: map[string]string{"ignored": why}})
	}
	ev, ok, why, err := p.workflowEvent(ctx, req)
	switch {
	case apperr.KindOf(err) == apperr.KindInvalid:
		// The kube-apiserver let it through its schema, so refuse it with
		// a message the submitter can act on rather than a webhook error.
		return encodeReview(req, answer{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
			message: "agentgate cannot read this " + req.Kind.Kind + ": " + err.Error()})
	case err != nil:
		return nil, err
	case !ok:
		log.DebugContext(ctx, "admission request not governed", "why", why)
		return encodeReview(req, answer{allowed: true, audit: map[string]string{"ignored": why}})
	}
	v, err := d.Decide(ctx, ev, DeliveryID(string(req.UID)))
	if apperr.KindOf(err) == apperr.KindUnavailable {
		// No decision can be recorded: refuse, whoever asks, rather than
		// leave it to the webhook's failurePolicy (Ignore would let an
		// agent's change through unrecorded).
		log.WarnContext(ctx, "admission refused: agentgate cannot decide now", "err", err)
		return encodeReview(req, answer{code: http.StatusServiceUnavailable, reason: metav1.StatusReasonServiceUnavailable,
			message: "agentgate cannot decide now (" + apperr.PublicMessage(err) + "); nothing was admitted, submit again shortly"})
	}
	if apperr.KindOf(err) == apperr.KindInvalid {
		// The gate refused the event as invalid (a username that is no
		// principal) and recorded the refusal: refuse the request, rather
		// than leave it to the webhook's failurePolicy.
		return encodeReview(req, answer{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
			message: "agentgate refused this " + req.Kind.Kind + ": " + apperr.PublicMessage(err)})
	}
	if err != nil {
		return nil, fmt.Errorf("argo: decide %s %s: %w", req.Kind.Kind, ev.Repo, err)
	}
	return encodeReview(req, verdictAnswer(req.Kind.Kind, v))
}

// verdictAnswer turns a verdict into the webhook's answer.
func verdictAnswer(kind string, v Verdict) answer {
	a := answer{allowed: true, warnings: append([]string(nil), v.Warnings...), audit: map[string]string{}}
	if v.DecisionID != "" {
		a.audit["decision-id"] = v.DecisionID
	}
	a.audit["effective"] = string(v.Effective)
	reasons := strings.Join(v.Reasons, "; ")
	switch v.Effective {
	case EffectiveAllow:
		if v.Enforcement == enforcementWarn {
			a.warnings = append(append([]string(nil), v.Reasons...), v.Warnings...)
		}
	case EffectiveApprovalRequired:
		a.allowed, a.code, a.reason = false, http.StatusForbidden, metav1.StatusReasonForbidden
		a.message = fmt.Sprintf("agentgate: a human must approve this %s (approval %s) and admission cannot wait; once it is approved, submit the same spec again (one submission is admitted)", kind, orUnknown(v.ApprovalID))
		if reasons != "" {
			a.message += ": " + reasons
		}
	default:
		a.allowed, a.code, a.reason = false, http.StatusForbidden, metav1.StatusReasonForbidden
		a.message = "agentgate refused this " + kind
		if reasons != "" {
			a.message += ": " + reasons
		}
	}
	return a
}

func orUnknown(s string) string {
	if s == "" {
		return "id unknown"
	}
	return s
}

// Handler serves POST /argo/admission with Review: 200 with the
// AdmissionReview answer, 400 for a malformed review, 413 over
// MaxReviewBytes, 500 when deciding failed. The kube-apiserver's
// ?timeout= bounds the decision (less a margin, at most 30s).
func (p *Provider) Handler(d Decider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			apperr.WriteBody(w, http.StatusMethodNotAllowed, apperr.Body{Error: apperr.Detail{Code: "method_not_allowed", Message: "use POST with an AdmissionReview"}})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReviewBytes))
		if err != nil {
			e := apperr.FromBodyRead(err)
			e.Message = "AdmissionReview: " + e.Message
			apperr.WriteHTTP(w, e, "")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), reviewTimeout(r.URL.Query().Get("timeout")))
		defer cancel()
		out, err := p.Review(ctx, body, d)
		if err != nil {
			p.log.ErrorContext(ctx, "admission review failed", "err", err)
			if apperr.KindOf(err) != apperr.KindInvalid {
				// The kube-apiserver applies failurePolicy; the cause stays in the log.
				err = apperr.Wrap(apperr.KindInternal, err, "agentgate could not decide")
			}
			apperr.WriteHTTP(w, err, "")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	})
}

// reviewTimeout is the time a review may take: the kube-apiserver's
// ?timeout= (a Go duration such as "5s") less a margin, at most 30s.
func reviewTimeout(q string) time.Duration {
	d, err := time.ParseDuration(q)
	if err != nil || d <= 0 || d > maxTimeout {
		return maxTimeout
	}
	if d > 2*timeoutMargin {
		d -= timeoutMargin
	}
	return d
}
