package rollback

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

// timedExecutor records the deployments it rolled back to and when.
type timedExecutor struct {
	mu    sync.Mutex
	calls []store.Deployment
	times []time.Time
}

func (x *timedExecutor) Rollback(_ context.Context, t Target, to store.Deployment) (Result, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls = append(x.calls, to)
	x.times = append(x.times, time.Now())
	return Result{Provider: t.Provider, Method: "test", Ref: to.ID}, nil
}

func (x *timedExecutor) recorded() ([]store.Deployment, []time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]store.Deployment(nil), x.calls...), append([]time.Time(nil), x.times...)
}

func TestHandles(t *testing.T) {
	d := store.Deployment{ID: "d1", Handles: map[string]string{"run_id": "111", "blank": "  ", "neg": "-3", "word": "x"}}
	tests := []struct {
		key     string
		want    int64
		wantErr string
	}{
		{"run_id", 111, ""},
		{"missing", 0, `deployment d1 has no "missing" handle`},
		{"blank", 0, `deployment d1 has no "blank" handle`},
		{"neg", 0, `handle "neg" is "-3", want a positive integer`},
		{"word", 0, `handle "word" is "x", want a positive integer`},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got, err := PositiveHandle(d, tc.key)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("PositiveHandle = %d, %v", got, err)
				}
				return
			}
			if !IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want a permanent one containing %q", err, tc.wantErr)
			}
		})
	}
}
