package apperr

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestFromBodyRead(t *testing.T) {
	big := func() error {
		rec := httptest.NewRecorder()
		_, err := io.ReadAll(http.MaxBytesReader(rec, io.NopCloser(strings.NewReader("0123456789")), 4))
		return err
	}
	tests := []struct {
		name   string
		err    error
		kind   Kind
		status int
	}{
		{name: "over the cap", err: big(), kind: KindTooLarge, status: http.StatusRequestEntityTooLarge},
		{name: "read deadline", err: fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded), kind: KindTimeout, status: http.StatusRequestTimeout},
		{name: "client went away", err: io.ErrUnexpectedEOF, kind: KindInvalid, status: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FromBodyRead(tc.err)
			if got.Kind != tc.kind || HTTPStatus(got.Kind) != tc.status {
				t.Fatalf("FromBodyRead(%v) = %s (%d), want %s (%d)", tc.err, got.Kind, HTTPStatus(got.Kind), tc.kind, tc.status)
			}
			if tc.kind != KindTooLarge && !errors.Is(got, tc.err) {
				t.Fatalf("the cause is not kept for the logs: %v", got)
			}
		})
	}
}

func TestWriteHTTP(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		requestID   string
		status      int
		wantBody    string
		wantHeaders map[string]string
	}{
		{name: "invalid", err: Invalid("reason is required"), status: 400,
			wantBody: `{"error":{"code":"invalid_argument","message":"reason is required"}}`},
		{name: "unauthenticated asks for a bearer token", err: New(KindUnauthenticated, "missing bearer token"), requestID: "r-1", status: 401,
			wantBody: `{"error":{"code":"unauthenticated","message":"missing bearer token","request_id":"r-1"}}`, wantHeaders: map[string]string{"WWW-Authenticate": `Bearer realm="agentgate"`}},
		{name: "unavailable says when to come back", err: New(KindUnavailable, "store unavailable"), status: 503,
			wantBody: `{"error":{"code":"unavailable","message":"store unavailable"}}`, wantHeaders: map[string]string{"Retry-After": RetryAfterUnavailable}},
		{name: "an internal cause is never shown", err: fmt.Errorf("dial tcp 10.0.0.7:5432: password authentication failed"), status: 500,
			wantBody: `{"error":{"code":"internal","message":"internal error"}}`},
		{name: "an internal error with a message still hides its cause", err: Wrap(KindInternal, errors.New("secret detail"), "could not decide"), status: 500,
			wantBody: `{"error":{"code":"internal","message":"internal error"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteHTTP(rec, tc.err, tc.requestID)
			if rec.Code != tc.status || strings.TrimSpace(rec.Body.String()) != tc.wantBody {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			for k, v := range tc.wantHeaders {
				if got := rec.Header().Get(k); got != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
