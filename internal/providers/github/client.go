package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Client defaults.
const (
	defaultTimeout = 30 * time.Second
	userAgent      = "agentgate"
	// secondaryWait is how long GitHub asks to wait after a secondary rate
	// limit that names no time: "at least one minute".
	secondaryWait = time.Minute
)

// apiClient makes authenticated REST calls: one go-github client for a
// token, or one per App installation (each with its own installation token,
// refreshed by ghinstallation).
type apiClient struct {
	base    *url.URL
	rt      http.RoundTripper
	timeout time.Duration
	token   string
	apps    *ghinstallation.AppsTransport
	now     func() time.Time

	mu      sync.Mutex
	byInst  map[int64]*gh.Client
	byToken *gh.Client
}

func newAPIClient(o Options) (*apiClient, error) {
	raw := strings.TrimSpace(o.BaseURL)
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("github: base URL %q is not an absolute http(s) URL", raw)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	c := &apiClient{base: base, rt: http.DefaultTransport, timeout: defaultTimeout, now: time.Now, byInst: map[int64]*gh.Client{}}
	if o.HTTPClient != nil {
		if o.HTTPClient.Transport != nil {
			c.rt = o.HTTPClient.Transport
		}
		if o.HTTPClient.Timeout > 0 {
			c.timeout = o.HTTPClient.Timeout
		}
	}
	switch {
	case o.Token.IsSet() && (o.AppID != 0 || o.PrivateKey.IsSet()):
		return nil, errors.New("github: configure either a token or a GitHub App (app id and private key), not both")
	case o.Token.IsSet():
		c.token = o.Token.Reveal()
	case o.AppID != 0 || o.PrivateKey.IsSet():
		if o.AppID <= 0 || !o.PrivateKey.IsSet() {
			return nil, errors.New("github: a GitHub App needs both a positive app id and a private key")
		}
		atr, err := ghinstallation.NewAppsTransport(c.rt, o.AppID, []byte(o.PrivateKey.Reveal()))
		if err != nil {
			// The library's message does not contain the key.
			return nil, fmt.Errorf("github: app private key: %w", err)
		}
		atr.BaseURL = strings.TrimSuffix(base.String(), "/")
		c.apps = atr
	}
	return c, nil
}

// client returns the client for an event: the token client, or the client
// of the event's App installation.
func (c *apiClient) client(ev event.Event) (*gh.Client, error) {
	switch {
	case c.token != "":
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.byToken == nil {
			c.byToken = c.newClient(c.rt).WithAuthToken(c.token)
			c.byToken.BaseURL = c.baseCopy()
		}
		return c.byToken, nil
	case c.apps != nil:
		raw := ev.Handles[handleInstallationID]
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return nil, &providers.PermanentError{Err: fmt.Errorf("github: the event has no installation id (handle %q is %q); GitHub App deliveries carry one", handleInstallationID, raw)}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if cl, ok := c.byInst[id]; ok {
			return cl, nil
		}
		itr := ghinstallation.NewFromAppsTransport(c.apps, id)
		itr.BaseURL = c.apps.BaseURL
		cl := c.newClient(itr)
		c.byInst[id] = cl
		return cl, nil
	}
	return nil, &providers.PermanentError{Err: errors.New("github: no API credentials configured (a token, or a GitHub App id and private key)")}
}

func (c *apiClient) newClient(rt http.RoundTripper) *gh.Client {
	cl := gh.NewClient(&http.Client{Transport: rt, Timeout: c.timeout})
	cl.BaseURL = c.baseCopy()
	cl.UserAgent = userAgent
	return cl
}

func (c *apiClient) baseCopy() *url.URL {
	u := *c.base
	return &u
}

// underBase reports whether u is an absolute URL below the API root, so that
// a credential is only ever sent to the configured GitHub.
func (c *apiClient) underBase(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User != nil {
		return false
	}
	return strings.EqualFold(p.Scheme, c.base.Scheme) && strings.EqualFold(p.Host, c.base.Host) &&
		strings.HasPrefix(p.Path, c.base.Path)
}

// classify turns a go-github error into nil (success, including 202
// Accepted), a *providers.PermanentError, or a retryable error.
func (c *apiClient) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var accepted *gh.AcceptedError
	if errors.As(err, &accepted) {
		return nil
	}
	wrapped := fmt.Errorf("github: %s: %w", op, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &providers.RetryableError{Err: wrapped}
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return &providers.RetryableError{Err: wrapped, Wait: c.untilReset(rl.Rate.Reset.Time)}
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		wait := secondaryWait
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			wait = *abuse.RetryAfter
		}
		return &providers.RetryableError{Err: wrapped, Wait: wait}
	}
	var inst *ghinstallation.HTTPError
	if errors.As(err, &inst) && inst.Response != nil {
		// The installation token could not be had; the library leaves the
		// response body open on failure.
		resp := inst.Response
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		return c.byStatus(wrapped, resp.StatusCode, resp.Header, "")
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return c.byStatus(wrapped, er.Response.StatusCode, er.Response.Header, er.Message)
	}
	// Network errors and the like.
	return &providers.RetryableError{Err: wrapped}
}

// byStatus classifies an HTTP failure: 5xx, 408, 429 and rate-limited 403s
// are retryable; other 4xx are permanent.
func (c *apiClient) byStatus(err error, status int, h http.Header, message string) error {
	if wait, limited := c.rateLimitWait(status, h, message); limited {
		return &providers.RetryableError{Err: err, Wait: wait}
	}
	switch {
	case status >= 500, status == http.StatusRequestTimeout:
		return &providers.RetryableError{Err: err, Wait: retryAfterHeader(h)}
	case status >= 400:
		return &providers.PermanentError{Err: err}
	}
	return &providers.RetryableError{Err: err}
}

// rateLimitWait reports whether a 403 or 429 is a rate limit and how long to
// wait, following GitHub's guidance: Retry-After if present; else the reset
// time when x-ratelimit-remaining is 0; else at least a minute.
func (c *apiClient) rateLimitWait(status int, h http.Header, message string) (time.Duration, bool) {
	if status != http.StatusForbidden && status != http.StatusTooManyRequests {
		return 0, false
	}
	if wait := retryAfterHeader(h); wait > 0 {
		return wait, true
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return c.untilReset(time.Unix(reset, 0)), true
		}
		return secondaryWait, true
	}
	if status == http.StatusTooManyRequests || strings.Contains(strings.ToLower(message), "rate limit") {
		return secondaryWait, true
	}
	return 0, false
}

// untilReset is the wait until a rate limit resets, at least a second.
func (c *apiClient) untilReset(reset time.Time) time.Duration {
	wait := reset.Sub(c.now()).Round(time.Second)
	if wait < time.Second {
		return time.Second
	}
	return wait
}

// retryAfterHeader reads Retry-After (see providers.ParseRetryAfter),
// rounded to the second; 0 when absent or past.
func retryAfterHeader(h http.Header) time.Duration {
	d, _ := providers.ParseRetryAfter(h, time.Now())
	return d.Round(time.Second)
}

// forbiddenNotLimited reports whether err is a 403 that is not a rate limit
// (a missing permission), for falling back to a lesser call.
func (c *apiClient) forbiddenNotLimited(err error) bool {
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusForbidden {
		return false
	}
	_, limited := c.rateLimitWait(er.Response.StatusCode, er.Response.Header, er.Message)
	return !limited
}

// RetryAfter reports how long GitHub asked to wait before retrying the call
// that failed with err; ok is false when err carries no wait.
func RetryAfter(err error) (time.Duration, bool) { return providers.RetryAfter(err) }
