package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

const testToken = "agt_secret-token"

// wantReq is what a case expects the client to send.
type wantReq struct {
	method string
	path   string
	query  url.Values // nil: no query string
	body   string     // JSON compared semantically; "": no body
}

// reply is the fake server's answer.
type reply struct {
	status int
	body   string
	header map[string]string
}

// apiCase is one table-driven call against the fake server.
type apiCase struct {
	name  string
	call  func(ctx context.Context, c *Client) (any, error)
	want  wantReq
	reply reply
	check func(t *testing.T, got any, err error)
}

// fakeAPI starts a server that checks the request against want and answers
// with r, and returns a client for it.
func fakeAPI(t *testing.T, want wantReq, r reply) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		checkRequest(t, req, want)
		for k, v := range r.header {
			w.Header().Set(k, v)
		}
		if r.body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		status := r.status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, r.body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL + "/", Token: testToken, UserAgent: "client-test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func checkRequest(t *testing.T, req *http.Request, want wantReq) {
	t.Helper()
	if req.Method != want.method {
		t.Errorf("method = %s, want %s", req.Method, want.method)
	}
	if req.URL.EscapedPath() != want.path {
		t.Errorf("path = %s, want %s", req.URL.EscapedPath(), want.path)
	}
	if got := req.URL.Query(); !(len(got) == 0 && len(want.query) == 0) && !reflect.DeepEqual(got, want.query) {
		t.Errorf("query = %v, want %v", got, want.query)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q, want the bearer token", got)
	}
	if got := req.Header.Get("User-Agent"); got != "client-test" {
		t.Errorf("User-Agent = %q", got)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	if want.body == "" {
		if len(body) != 0 {
			t.Errorf("body = %s, want none", body)
		}
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !jsonEqual(t, string(body), want.body) {
		t.Errorf("body = %s, want %s", body, want.body)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Errorf("invalid JSON %s: %v", a, err)
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Errorf("invalid JSON %s: %v", b, err)
		return false
	}
	return reflect.DeepEqual(x, y)
}

// runCases runs table-driven API cases.
func runCases(t *testing.T, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeAPI(t, tc.want, tc.reply)
			got, err := tc.call(t.Context(), c)
			if tc.check != nil {
				tc.check(t, got, err)
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
		})
	}
}

// noErr fails the test on err.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "ok", opts: Options{BaseURL: "https://gate.example.com", Token: "t"}},
		{name: "path prefix", opts: Options{BaseURL: "http://h:8080/agentgate/", Token: "t"}},
		{name: "no url", opts: Options{Token: "t"}, wantErr: "base URL is required"},
		{name: "bad scheme", opts: Options{BaseURL: "ftp://h", Token: "t"}, wantErr: "http:// or https://"},
		{name: "no host", opts: Options{BaseURL: "http://", Token: "t"}, wantErr: "no host"},
		{name: "query", opts: Options{BaseURL: "http://h/?x=1", Token: "t"}, wantErr: "query"},
		{name: "credentials", opts: Options{BaseURL: "http://u:p@h", Token: "t"}, wantErr: "credentials"},
		{name: "no token", opts: Options{BaseURL: "http://h"}, wantErr: "token is required"},
		{name: "token with newline", opts: Options{BaseURL: "http://h", Token: "a\nb"}, wantErr: "whitespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.opts)
			if tc.wantErr == "" {
				noErr(t, err)
				if c.http.Timeout != DefaultTimeout {
					t.Errorf("default timeout = %v, want %v", c.http.Timeout, DefaultTimeout)
				}
				if c.userAgent != DefaultUserAgent {
					t.Errorf("user agent = %q", c.userAgent)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestBaseURLPrefixIsKept(t *testing.T) {
	paths := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		_, _ = io.WriteString(w, `{"items":[]}`)
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL + "/gate/", Token: "t"})
	noErr(t, err)
	_, err = c.ListAgents(t.Context(), store.AgentFilter{})
	noErr(t, err)
	if gotPath := <-paths; gotPath != "/gate/api/v1/agents" {
		t.Fatalf("path = %q, want /gate/api/v1/agents", gotPath)
	}
}

func TestTokenIsNeverPrinted(t *testing.T) {
	o := Options{BaseURL: "http://h", Token: testToken}
	c, err := New(o)
	noErr(t, err)
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o),
		fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, testToken) {
			t.Errorf("token printed: %s", s)
		}
		if !strings.Contains(s, "[redacted]") {
			t.Errorf("redaction marker missing: %s", s)
		}
	}
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name    string
		reply   reply
		want    APIError
		wantMsg string
	}{
		{
			name:    "not found",
			reply:   reply{status: 404, body: `{"error":{"code":"not_found","message":"agent \"x\" not found","request_id":"r1"}}`},
			want:    APIError{Status: 404, Code: "not_found", Message: `agent "x" not found`, RequestID: "r1"},
			wantMsg: `404 not_found: agent "x" not found`,
		},
		{
			name:    "internal error shows the request id",
			reply:   reply{status: 500, body: `{"error":{"code":"internal","message":"internal error","request_id":"abc"}}`},
			want:    APIError{Status: 500, Code: "internal", Message: "internal error", RequestID: "abc"},
			wantMsg: "500 internal: internal error (request id abc)",
		},
		{
			name:    "request id from header",
			reply:   reply{status: 401, body: `{"error":{"code":"unauthenticated","message":"missing bearer token"}}`, header: map[string]string{"X-Request-Id": "hdr"}},
			want:    APIError{Status: 401, Code: "unauthenticated", Message: "missing bearer token", RequestID: "hdr"},
			wantMsg: "401 unauthenticated: missing bearer token",
		},
		{
			name:    "not an agentgate body",
			reply:   reply{status: 502, body: "<html>\n  <h1>Bad   Gateway</h1></html>", header: map[string]string{"Content-Type": "text/html"}},
			want:    APIError{Status: 502, Message: "<html> <h1>Bad Gateway</h1></html>"},
			wantMsg: "502 Bad Gateway: <html> <h1>Bad Gateway</h1></html>",
		},
		{
			name:    "empty body",
			reply:   reply{status: 503},
			want:    APIError{Status: 503},
			wantMsg: "503 Service Unavailable",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeAPI(t, wantReq{method: "GET", path: "/api/v1/agents/x"}, tc.reply)
			_, err := c.GetAgent(t.Context(), "x")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error = %v (%T), want *APIError", err, err)
			}
			if *apiErr != tc.want {
				t.Errorf("APIError = %+v, want %+v", *apiErr, tc.want)
			}
			if err.Error() != tc.wantMsg {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.wantMsg)
			}
		})
	}
}

func TestEmptyIDIsRefusedWithoutARequest(t *testing.T) {
	c, err := New(Options{BaseURL: "http://127.0.0.1:1", Token: "t"})
	noErr(t, err)
	ctx := t.Context()
	calls := map[string]func() error{
		"GetAgent":          func() error { _, err := c.GetAgent(ctx, ""); return err },
		"Suspend":           func() error { _, err := c.Suspend(ctx, " ", "r"); return err },
		"GetKillSwitch":     func() error { _, err := c.GetKillSwitch(ctx, ""); return err },
		"ReleaseKillSwitch": func() error { _, err := c.ReleaseKillSwitch(ctx, "", ""); return err },
		"GetApproval":       func() error { _, err := c.GetApproval(ctx, ""); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); err == nil || !strings.Contains(err.Error(), "id is required") {
				t.Fatalf("error = %v, want an id is required error", err)
			}
		})
	}
}

func TestTimeoutAndCancellation(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	t.Run("http client timeout", func(t *testing.T) {
		c, err := New(Options{BaseURL: srv.URL, Token: "t", HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		noErr(t, err)
		_, err = c.Me(t.Context())
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("error = %v, want a timeout", err)
		}
		if !strings.Contains(err.Error(), "GET /me") {
			t.Errorf("error %q does not name the call", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		c, err := New(Options{BaseURL: srv.URL, Token: "t"})
		noErr(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err = c.VerifyAudit(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestUndecodableSuccessBody(t *testing.T) {
	c := fakeAPI(t, wantReq{method: "GET", path: "/api/v1/agents/a"}, reply{body: "not json"})
	_, err := c.GetAgent(t.Context(), "a")
	if err == nil || !strings.Contains(err.Error(), "decode response") {
		t.Fatalf("error = %v, want a decode error", err)
	}
}
