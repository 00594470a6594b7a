package providers

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads a Retry-After header, as delay-seconds or as an
// HTTP date (RFC 9110, section 10.2.3), relative to now. ok is false when
// the header is absent or malformed; a delay of zero or less, or a date not
// after now, is 0 with ok true. Callers bound the wait themselves.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0, true
		}
		// Beyond a day is as good as forever; it also keeps the
		// multiplication from overflowing.
		return time.Duration(min(secs, 24*3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
