package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers and for the HTTP status mapping.
type Kind string

// Error kinds.
const (
	KindInternal        Kind = "internal"
	KindInvalid         Kind = "invalid_argument"
	KindUnauthenticated Kind = "unauthenticated"
	KindForbidden       Kind = "forbidden"
	KindNotFound        Kind = "not_found"
	KindConflict        Kind = "conflict"
	KindTooLarge        Kind = "payload_too_large"
	KindTimeout         Kind = "request_timeout"
	KindUnavailable     Kind = "unavailable"
	// KindCanceled is a request its client gave up on before the answer:
	// not the server's fault, and nothing was completed.
	KindCanceled Kind = "client_closed_request"
)

// Error is a typed error with a message that is safe to show to the caller.
// The wrapped error, if any, is for logs and errors.Is/As only.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message != "" {
		return e.Message + ": " + e.Err.Error()
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same kind and message, so
// that sentinel errors built with New match after wrapping.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && t.Message == e.Message && t.Err == nil
}

// New returns an error of the given kind.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the given kind that wraps err.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// Invalid is shorthand for New(KindInvalid, ...).
func Invalid(format string, args ...any) *Error { return New(KindInvalid, format, args...) }

// NotFound is shorthand for New(KindNotFound, ...).
func NotFound(format string, args ...any) *Error { return New(KindNotFound, format, args...) }

// Conflict is shorthand for New(KindConflict, ...).
func Conflict(format string, args ...any) *Error { return New(KindConflict, format, args...) }

// Forbidden is shorthand for New(KindForbidden, ...).
func Forbidden(format string, args ...any) *Error { return New(KindForbidden, format, args...) }

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// PublicMessage returns the message that may be shown to an API caller:
// the typed message for an *Error, a generic text otherwise (internal
// details stay in the logs).
func PublicMessage(err error) string {
	var e *Error
	if !errors.As(err, &e) || e.Kind == KindInternal {
		return "internal error"
	}
	// A typed error wrapped with context by fmt.Errorf (the store's
	// `agent name "x" exists: conflict`) says more than its sentinel; a
	// typed error that wraps an internal cause shows only its own message.
	if e.Err == nil && err != error(e) {
		return err.Error()
	}
	if e.Message != "" {
		return e.Message
	}
	return string(e.Kind)
}
