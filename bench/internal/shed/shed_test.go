package shed

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration
		shed       bool
	}{
		{name: "shed", status: http.StatusServiceUnavailable, retryAfter: "10", want: 10 * time.Second, shed: true},
		{name: "503 without Retry-After", status: http.StatusServiceUnavailable},
		{name: "503 with a date", status: http.StatusServiceUnavailable, retryAfter: "Fri, 04 Dec 2026 23:59:59 GMT"},
		{name: "negative delay", status: http.StatusServiceUnavailable, retryAfter: "-1"},
		{name: "429 is not a shed answer", status: http.StatusTooManyRequests, retryAfter: "10"},
		{name: "ok", status: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			if tc.retryAfter != "" {
				resp.Header.Set("Retry-After", tc.retryAfter)
			}
			after, shed := Of(fmt.Errorf("wrapped: %w", Check(resp)))
			if shed != tc.shed || after != tc.want {
				t.Fatalf("shed %v after %s, want %v after %s", shed, after, tc.shed, tc.want)
			}
		})
	}
}
