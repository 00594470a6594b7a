package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds each request when Options.HTTPClient is nil.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is sent when Options.UserAgent is empty.
const DefaultUserAgent = "agentgate-client"

const (
	apiPrefix    = "/api/v1"
	maxErrorBody = 64 << 10
	// headerRequestID is the header the server echoes its request id in.
	headerRequestID = "X-Request-Id"
)

// Options configures a Client.
type Options struct {
	// BaseURL is the server's root URL, e.g. "https://gate.example.com"
	// (a path prefix is kept: "https://example.com/agentgate").
	BaseURL string
	// Token is the API bearer token (operator or agent).
	Token string
	// HTTPClient sends the requests; when nil a client with DefaultTimeout
	// is used.
	HTTPClient *http.Client
	// UserAgent is sent as the User-Agent header; DefaultUserAgent when empty.
	UserAgent string
}

// String describes the options without the token.
func (o Options) String() string {
	return fmt.Sprintf("client.Options{BaseURL: %q, Token: %s, UserAgent: %q}", o.BaseURL, redact(o.Token), o.UserAgent)
}

// GoString is String, so that %#v does not print the token either.
func (o Options) GoString() string { return o.String() }

// Client calls the agentgate API. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[/prefix] without a trailing slash
	token     string
	http      *http.Client
	userAgent string
}

// New returns a client for the server at o.BaseURL.
func New(o Options) (*Client, error) {
	raw := strings.TrimSpace(o.BaseURL)
	if raw == "" {
		return nil, errors.New("client: base URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("client: base URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: base URL %q must start with http:// or https://", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("client: base URL %q must not carry credentials, a query or a fragment", raw)
	}
	if o.Token == "" {
		return nil, errors.New("client: an API token is required")
	}
	if strings.ContainsAny(o.Token, " \t\r\n") {
		return nil, errors.New("client: the API token must not contain whitespace")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	ua := o.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	base := u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	return &Client{base: base, token: o.Token, http: hc, userAgent: ua}, nil
}

// String describes the client without its token.
func (c *Client) String() string {
	return fmt.Sprintf("client.Client{base: %q, token: %s}", c.base, redact(c.token))
}

// GoString is String, so that %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

func redact(token string) string {
	if token == "" {
		return `""`
	}
	return "[redacted]"
}

// APIError is a non-2xx answer from the server.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the server's error code (not_found, invalid_argument,
	// conflict, forbidden, ...); empty when the body was not an agentgate
	// error (a proxy's page, for instance).
	Code string
	// Message is the server's explanation, or the start of the body.
	Message string
	// RequestID identifies the request in the server's logs.
	RequestID string
}

// Error reads like `404 not_found: agent "x" not found`. Server errors
// (5xx) add the request id, which is what an operator needs to find the
// failure in the server's logs.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Status)
	switch {
	case e.Code != "":
		b.WriteString(" " + e.Code)
	case http.StatusText(e.Status) != "":
		b.WriteString(" " + http.StatusText(e.Status))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Status >= 500 && e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// errorBody is the server's error envelope.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// decodeError builds an *APIError from a non-2xx response.
func decodeError(resp *http.Response) *APIError {
	e := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get(headerRequestID)}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
		if eb.Error.RequestID != "" {
			e.RequestID = eb.Error.RequestID
		}
		return e
	}
	msg := strings.Join(strings.Fields(string(body)), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	e.Message = msg
	return e
}

// escape returns id as one escaped path segment; an empty id is an error
// rather than a request for the collection.
func escape(what, id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", fmt.Errorf("client: %s id is required", what)
	}
	return url.PathEscape(id), nil
}

// send builds and sends a request to the API path (below /api/v1). A
// non-nil in is sent as JSON. The caller closes the body of a 2xx
// response; any other status is returned as an *APIError.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	target := c.base + apiPrefix + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// do sends a request and decodes a JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// listResponse is the server's envelope for collections.
type listResponse[T any] struct {
	Items []T `json:"items"`
}

// list GETs a collection and returns its items (never nil).
func list[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	var out listResponse[T]
	if err := c.do(ctx, http.MethodGet, path, query, nil, &out); err != nil {
		return nil, err
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return out.Items, nil
}

// setIf adds key=value to q when value is not empty.
func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// setTime adds key as RFC 3339 to q when t is set.
func setTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, t.Format(time.RFC3339Nano))
	}
}
