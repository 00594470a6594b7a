package argo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentgate/agentgate/internal/apperr"
)

// AdmissionReview envelope values accepted and answered.
const (
	reviewAPIVersion = "admission.k8s.io/v1"
	reviewKind       = "AdmissionReview"
	// maxWarning is what the kube-apiserver keeps of one warning.
	maxWarning = 256
	// maxWarnings bounds the warnings of one answer.
	maxWarnings = 16
	// maxMessage bounds status.message.
	maxMessage = 4096
)

// decodeReview parses an AdmissionReview v1 request. A body that is not
// JSON, another apiVersion or kind, or a review without request or
// request.uid is apperr.KindInvalid.
func decodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, apperr.Invalid("empty body: want an AdmissionReview (admission.k8s.io/v1)")
	}
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, apperr.Wrap(apperr.KindInvalid, err, "body is not an AdmissionReview: %s", jsonProblem(err))
	}
	if r.APIVersion != reviewAPIVersion || r.Kind != reviewKind {
		return nil, apperr.Invalid("got %s %q, want %s %q (set admissionReviewVersions: [v1])", orNone(r.Kind), r.APIVersion, reviewKind, reviewAPIVersion)
	}
	if r.Request == nil {
		return nil, apperr.Invalid("AdmissionReview has no request")
	}
	if strings.TrimSpace(string(r.Request.UID)) == "" {
		return nil, apperr.Invalid("AdmissionReview request has no uid")
	}
	return &r, nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, te.Type, te.Value)
	}
	return "invalid JSON"
}

func orNone(s string) string {
	if s == "" {
		return "no kind"
	}
	return s
}

// answer is what to tell the kube-apiserver about one request.
type answer struct {
	allowed  bool
	code     int32
	reason   metav1.StatusReason
	message  string
	warnings []string
	audit    map[string]string
}

// encodeReview builds the AdmissionReview v1 response to req.
func encodeReview(req *admissionv1.AdmissionRequest, a answer) ([]byte, error) {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: a.allowed}
	if !a.allowed || a.message != "" {
		st := &metav1.Status{Message: clip(a.message, maxMessage)}
		if !a.allowed {
			st.Status, st.Code, st.Reason = metav1.StatusFailure, a.code, a.reason
		}
		resp.Result = st
	}
	resp.Warnings = cleanWarnings(a.warnings)
	if len(a.audit) > 0 {
		resp.AuditAnnotations = a.audit
	}
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: reviewKind},
		Response: resp,
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("argo: encode AdmissionReview response: %w", err)
	}
	return b, nil
}

// cleanWarnings prefixes, de-duplicates and clips warnings to what the
// kube-apiserver shows (one line each, at most 256 bytes).
func cleanWarnings(ws []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range ws {
		w = strings.Join(strings.Fields(w), " ")
		if w == "" {
			continue
		}
		w = clip("agentgate: "+w, maxWarning)
		if seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
		if len(out) == maxWarnings {
			break
		}
	}
	return out
}
