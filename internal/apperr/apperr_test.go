package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestPublicMessage(t *testing.T) {
	sentinel := New(KindConflict, "conflict")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "typed", err: Invalid("name is required"), want: "name is required"},
		{name: "sentinel wrapped with context", err: fmt.Errorf("agent name %q exists: %w", "x", sentinel), want: `agent name "x" exists: conflict`},
		{name: "typed wrapping an internal cause", err: Wrap(KindUnavailable, errors.New("dial tcp 10.0.0.1: refused"), "store unavailable"), want: "store unavailable"},
		{name: "untyped", err: errors.New("pq: relation does not exist"), want: "internal error"},
		{name: "internal kind", err: New(KindInternal, "boom"), want: "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PublicMessage(tc.err); got != tc.want {
				t.Fatalf("= %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, sentinel) && tc.name == "sentinel wrapped with context" {
				t.Fatal("errors.Is lost the sentinel")
			}
		})
	}
}
