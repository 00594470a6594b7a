package apperr

import (
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
	}
	return http.StatusInternalServerError
}

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
