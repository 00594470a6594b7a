package rollback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

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

// Result is what an executor did.
type Result struct {
	Provider string `json:"provider"`
	// Method names the mechanism: "rerun", "dispatch", "job_retry",
	// "argocd_rollback".
	Method string `json:"method"`
	// Ref is the provider's handle of what was started (a run id, a job
	// id, a history id).
	Ref string `json:"ref,omitempty"`
	// URL links to it when the provider returned one.
	URL string `json:"url,omitempty"`
	// Steps lists the calls made, in order, for the audit record
	// (for example that Argo CD auto-sync was switched off first).
	Steps []string `json:"steps,omitempty"`
}

// retryableError is a provider error worth retrying; wait is how long the
// provider asked to wait (Retry-After), zero when it named none.
type retryableError struct {
	err  error
	wait time.Duration
}

var _ providers.RetryDelayer = (*retryableError)(nil)

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// RetryDelay implements providers.RetryDelayer.
func (e *retryableError) RetryDelay() time.Duration { return e.wait }

// permanent wraps a formatted error as a *providers.PermanentError.
func permanent(format string, args ...any) error {
	return &providers.PermanentError{Err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err is a *providers.PermanentError.
func IsPermanent(err error) bool {
	var p *providers.PermanentError
	return errors.As(err, &p)
}

// maxErrorBody bounds how much of an error response is kept.
const maxErrorBody = 2048

// apiClient makes JSON calls to a provider's REST API.
type apiClient struct {
	name   string
	base   string
	http   *http.Client
	header http.Header
}

func newAPIClient(name, base string, hc *http.Client, header http.Header) apiClient {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return apiClient{name: name, base: strings.TrimRight(base, "/"), http: hc, header: header}
}

// do sends a JSON request to base+path and decodes a 2xx JSON answer into
// out (when out is not nil and there is a body). Other statuses are
// classified: 429 and 5xx are retryable (honouring Retry-After), other
// 4xx permanent; transport errors are retryable.
func (c apiClient) do(ctx context.Context, method, path string, in, out any) error {
	op := method + " " + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return permanent("%s: %s: encode request: %w", c.name, op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return permanent("%s: %s: %w", c.name, op, err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &retryableError{err: fmt.Errorf("%s: %s: %w", c.name, op, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			return nil
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %s: decode response: %w", c.name, op, err)
		}
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return classifyStatus(fmt.Errorf("%s: %s: %s: %s", c.name, op, resp.Status, strings.TrimSpace(string(msg))), resp.StatusCode, resp.Header)
}

// classifyStatus turns a failed status into a retryable or permanent error.
func classifyStatus(err error, status int, h http.Header) error {
	if status == http.StatusTooManyRequests || status >= 500 {
		return &retryableError{err: err, wait: retryAfter(h)}
	}
	return &providers.PermanentError{Err: err}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// handle returns a deployment handle, or a permanent error naming it.
func handle(d store.Deployment, key string) (string, error) {
	v := strings.TrimSpace(d.Handles[key])
	if v == "" {
		return "", permanent("deployment %s has no %q handle to roll back with", d.ID, key)
	}
	return v, nil
}

// positiveInt parses a handle that must be a positive integer.
func positiveInt(d store.Deployment, key string) (int64, error) {
	v, err := handle(d, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, permanent("deployment %s: handle %q is %q, want a positive integer", d.ID, key, v)
	}
	return n, nil
}
