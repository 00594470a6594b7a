package app

import (
	"testing"

	"github.com/agentgate/agentgate/internal/rollback"
	"github.com/agentgate/agentgate/internal/store"
)

func TestRollbackMessage(t *testing.T) {
	tests := []struct {
		name string
		r    rollback.Rollback
		want string
	}{
		{name: "succeeded", r: rollback.Rollback{State: rollback.RollbackSucceeded, FromSHA: "b2", To: store.Deployment{SHA: "a1"}, Reason: "5xx spike"},
			want: "rollback succeeded of b2 to a1: 5xx spike"},
		{name: "failed says why", r: rollback.Rollback{State: rollback.RollbackFailed, FromSHA: "b2", To: store.Deployment{SHA: "a1"}, Reason: "5xx spike",
			Error: "github: rerun workflow run 111: 403 too old to re-run"},
			want: "rollback failed of b2 to a1: 5xx spike; error: github: rerun workflow run 111: 403 too old to re-run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rollbackMessage(tc.r); got != tc.want {
				t.Fatalf("= %q, want %q", got, tc.want)
			}
		})
	}
}
