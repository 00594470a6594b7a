// Package shed reads the answers agentgate sheds for want of a decision
// slot (503 with Retry-After), for the load generators that wait as told.
package shed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error is an answer 503 with Retry-After: the server refused the request
// before any work, and asked to be asked again after After.
type Error struct{ After time.Duration }

func (e *Error) Error() string { return fmt.Sprintf("shed, retry after %s", e.After) }

// Check returns an *Error for a 503 answer with Retry-After in seconds,
// and nil for any other answer.
func Check(resp *http.Response) error {
	if resp.StatusCode != http.StatusServiceUnavailable {
		return nil
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 0 {
		return nil
	}
	return &Error{After: time.Duration(secs) * time.Second}
}

// Of reports whether err is a shed answer, and its delay.
func Of(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.After, true
	}
	return 0, false
}

// Wait sleeps for d or until ctx ends.
func Wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
