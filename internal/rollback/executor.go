package rollback

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/store"
)

// Executor rolls a target back to an earlier deployment on one provider.
// Errors are a *providers.PermanentError when retrying cannot help (a 4xx,
// a missing handle) and otherwise retryable, possibly a
// providers.RetryDelayer carrying the wait the provider asked for.
type Executor interface {
	Rollback(ctx context.Context, target Target, to store.Deployment) (Result, error)
}

// ReadyChecker is an Executor's optional role: it says whether it has
// what it needs to roll back (the provider's API credentials). An executor
// that is not ready is not registered, so that a rollback of its provider
// is refused at once (400) rather than failing after it was accepted.
type ReadyChecker interface {
	// RollbackReady returns nil when the executor can roll back, else why not.
	RollbackReady() error
}

// Permanent wraps a formatted error as a *providers.PermanentError: an
// executor's error that retrying cannot fix.
func Permanent(format string, args ...any) error {
	return &providers.PermanentError{Err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err is a *providers.PermanentError.
func IsPermanent(err error) bool {
	var p *providers.PermanentError
	return errors.As(err, &p)
}

// Handle returns a deployment handle, or a permanent error naming it.
func Handle(d store.Deployment, key string) (string, error) {
	v := strings.TrimSpace(d.Handles[key])
	if v == "" {
		return "", Permanent("deployment %s has no %q handle to roll back with", d.ID, key)
	}
	return v, nil
}

// PositiveHandle parses a handle that must be a positive integer.
func PositiveHandle(d store.Deployment, key string) (int64, error) {
	v, err := Handle(d, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, Permanent("deployment %s: handle %q is %q, want a positive integer", d.ID, key, v)
	}
	return n, nil
}
