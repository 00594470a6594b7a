package apperr

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
)

// HTTPStatus is the one mapping of error kinds to HTTP status codes, used
// by every handler that answers with an error.
func HTTPStatus(k Kind) int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindUnauthenticated:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindTimeout:
		return http.StatusRequestTimeout
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindCanceled:
		return StatusClientClosedRequest
	}
	return http.StatusInternalServerError
}

// StatusClientClosedRequest is the status recorded (in logs and metrics;
// nobody reads the answer) for a request whose client went away first, as
// nginx does.
const StatusClientClosedRequest = 499

// FromBodyRead classifies an error reading a request body: a body over the
// cap is KindTooLarge, a body that did not arrive before the server's read
// deadline (a client that sends its headers and then trickles) is
// KindTimeout, and any other failure (the client went away mid-body) is
// KindInvalid. None of them is the server's fault, so none is internal.
func FromBodyRead(err error) *Error {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return New(KindTooLarge, "request body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return Wrap(KindTimeout, err, "the request body did not arrive in time; send it at once")
	default:
		return Wrap(KindInvalid, err, "the request body could not be read")
	}
}

// RetryAfterUnavailable is the Retry-After, in seconds, of a 503: nothing
// was done and the same request may succeed shortly.
const RetryAfterUnavailable = "10"

// Body is the error envelope of every HTTP answer agentgate gives with an
// error: {"error":{"code","message","request_id"}}.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the inside of Body: code is the error kind (or another short
// code such as method_not_allowed), message is safe to show.
type Detail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// BodyOf is the envelope of err: its kind as the code and its public
// message (an internal error's cause is never shown).
func BodyOf(err error, requestID string) Body {
	return Body{Error: Detail{Code: string(KindOf(err)), Message: PublicMessage(err), RequestID: requestID}}
}

// WriteHTTP is the one error writer: the status of err's kind, the
// headers that go with it (Retry-After on 503, WWW-Authenticate on 401)
// and the JSON envelope. Handlers log what they need before calling it.
func WriteHTTP(w http.ResponseWriter, err error, requestID string) {
	kind := KindOf(err)
	switch kind {
	case KindUnavailable:
		w.Header().Set("Retry-After", RetryAfterUnavailable)
	case KindUnauthenticated:
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentgate"`)
	}
	WriteBody(w, HTTPStatus(kind), BodyOf(err, requestID))
}

// WriteBody writes an error envelope with a status of the caller's choice
// (405, for one, which is no error kind).
func WriteBody(w http.ResponseWriter, status int, b Body) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}
