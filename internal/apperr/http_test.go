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
