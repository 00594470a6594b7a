package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/secret"
)

// Client defaults.
const (
	userAgent = "agentgate"
	// maxWait caps a wait GitLab asks for.
	maxWait = time.Hour
)

// apiClient makes authenticated REST calls through client-go. Its own
// retries are off: the core's dispatcher retries enforcement with back-off
// and honours the waits errors carry (providers.RetryDelayer).
type apiClient struct {
	gl  *gl.Client // nil without a token
	now func() time.Time
}

func newAPIClient(base string, token secret.Secret, hc *http.Client) (*apiClient, error) {
	c := &apiClient{now: time.Now}
	if !token.IsSet() {
		return c, nil
	}
	cl, err := gl.NewClient(token.Reveal(),
		gl.WithBaseURL(base+"/api/v4"),
		gl.WithHTTPClient(hc),
		gl.WithoutRetries(),
		gl.WithUserAgent(userAgent),
	)
	if err != nil {
		// client-go's message names the URL, never the token.
		return nil, fmt.Errorf("gitlab: API client: %w", err)
	}
	c.gl = cl
	return c, nil
}

// client returns the REST client, or a permanent error without a token.
func (c *apiClient) client() (*gl.Client, error) {
	if c.gl == nil {
		return nil, &providers.PermanentError{Err: errors.New("gitlab: no API token configured (gitlab.api_token)")}
	}
	return c.gl, nil
}

// classify turns a client-go result into nil, a *providers.PermanentError
// (4xx other than 408 and 429: retrying cannot help) or a retryable error
// (5xx, 408, 429, network errors, cancelled contexts).
func (c *apiClient) classify(op string, resp *gl.Response, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("gitlab: %s: %w", op, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &providers.RetryableError{Err: wrapped}
	}
	if resp == nil || resp.Response == nil {
		return &providers.RetryableError{Err: wrapped}
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return &providers.RetryableError{Err: wrapped, Wait: c.waitOf(resp.Header)}
	case status >= 400:
		return &providers.PermanentError{Err: wrapped}
	}
	return &providers.RetryableError{Err: wrapped}
}

// statusOf is the HTTP status of a failed call, 0 when it got no answer.
func statusOf(resp *gl.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// waitOf reads how long GitLab asked to wait: Retry-After (seconds or an
// HTTP date), else RateLimit-Reset (a Unix time); 0 when neither is there.
func (c *apiClient) waitOf(h http.Header) time.Duration {
	if d, ok := providers.ParseRetryAfter(h, c.now()); ok {
		if d <= 0 {
			return 0
		}
		return min(max(d.Round(time.Second), time.Second), maxWait)
	}
	if v := strings.TrimSpace(h.Get("RateLimit-Reset")); v != "" {
		if reset, err := strconv.ParseInt(v, 10, 64); err == nil {
			return c.until(time.Unix(reset, 0))
		}
	}
	return 0
}

// until is the wait until t, at least a second, at most maxWait.
func (c *apiClient) until(t time.Time) time.Duration {
	d := t.Sub(c.now()).Round(time.Second)
	return min(max(d, time.Second), maxWait)
}

// RetryAfter reports how long GitLab asked to wait before retrying the call
// that failed with err; ok is false when err carries no wait.
func RetryAfter(err error) (time.Duration, bool) { return providers.RetryAfter(err) }
