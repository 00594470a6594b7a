package providers

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"absent", "", 0, false},
		{"seconds", "120", 2 * time.Minute, true},
		{"seconds with spaces", " 7 ", 7 * time.Second, true},
		{"zero seconds", "0", 0, true},
		{"negative seconds", "-5", 0, true},
		{"more than a day", "999999999999", 24 * time.Hour, true},
		{"an HTTP date", "Sun, 22 Nov 2026 11:01:30 GMT", 90 * time.Second, true},
		{"a past date", "Sun, 22 Nov 2026 10:00:00 GMT", 0, true},
		{"malformed", "soon", 0, false},
		{"a fraction", "1.5", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			got, ok := ParseRetryAfter(h, now)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Sun, 22 Nov 2026 11:01:30 GMT", "", "-1", "9223372036854775807"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("Retry-After", v)
		d, _ := ParseRetryAfter(h, now)
		if d < 0 || (d > 24*time.Hour && !isDate(v)) {
			t.Fatalf("ParseRetryAfter(%q) = %v", v, d)
		}
	})
}

func isDate(v string) bool { _, err := http.ParseTime(v); return err == nil }
