package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

func TestAudit(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	runCases(t, []apiCase{
		{
			name: "query with every filter",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.QueryAudit(ctx, store.AuditQuery{AgentID: "octo-bot", Owner: "team-a", Outcome: "deny", Provider: "github",
					Kind: audit.KindDecision, From: from, To: to, AfterSeq: 41, Limit: 2})
			},
			want: wantReq{method: "GET", path: "/api/v1/audit", query: url.Values{"agent": {"octo-bot"}, "owner": {"team-a"},
				"outcome": {"deny"}, "provider": {"github"}, "kind": {"decision"}, "from": {"2025-01-01T00:00:00Z"},
				"to": {"2025-01-02T00:00:00Z"}, "after": {"41"}, "limit": {"2"}}},
			reply: reply{body: `{"items":[{"seq":42,"id":"r42","kind":"decision"},{"seq":43,"id":"r43","kind":"decision"}],"next_cursor":"43"}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				page := got.(AuditPage)
				next, more, err := page.Next()
				if len(page.Items) != 2 || page.Items[1].Seq != 43 || err != nil || !more || next != 43 {
					t.Errorf("page = %+v, next = %d, %v, %v", page, next, more, err)
				}
			},
		},
		{
			name:  "last page",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.QueryAudit(ctx, store.AuditQuery{}) },
			want:  wantReq{method: "GET", path: "/api/v1/audit"},
			reply: reply{body: `{"items":[]}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if _, more, _ := got.(AuditPage).Next(); more {
					t.Error("more = true on the last page")
				}
			},
		},
		{
			name:  "verify intact",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.VerifyAudit(ctx) },
			want:  wantReq{method: "GET", path: "/api/v1/audit/verify"},
			reply: reply{body: `{"ok":true,"checked":12,"head":"abc"}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if v := got.(Verification); !v.OK || v.Checked != 12 || v.Head != "abc" || v.Break != nil {
					t.Errorf("verification = %+v", v)
				}
			},
		},
		{
			name:  "verify broken is not an error",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.VerifyAudit(ctx) },
			want:  wantReq{method: "GET", path: "/api/v1/audit/verify"},
			reply: reply{body: `{"ok":false,"checked":4,"head":"h4","break":{"seq":5,"reason":"hash mismatch"}}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if v := got.(Verification); v.OK || v.Break == nil || v.Break.Seq != 5 {
					t.Errorf("verification = %+v", v)
				}
			},
		},
		{
			name: "bad limit",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.QueryAudit(ctx, store.AuditQuery{Limit: 5000})
			},
			want:  wantReq{method: "GET", path: "/api/v1/audit", query: url.Values{"limit": {"5000"}}},
			reply: reply{status: 400, body: `{"error":{"code":"invalid_argument","message":"query parameter limit=\"5000\" is not valid"}}`},
			check: wantAPIError(400, "invalid_argument", `400 invalid_argument: query parameter limit="5000" is not valid`),
		},
	})
}

func TestEachAuditFollowsTheCursor(t *testing.T) {
	var (
		mu     sync.Mutex
		afters []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after := r.URL.Query().Get("after")
		mu.Lock()
		afters = append(afters, after)
		mu.Unlock()
		switch after {
		case "":
			_, _ = io.WriteString(w, `{"items":[{"seq":1},{"seq":2}],"next_cursor":"2"}`)
		case "2":
			_, _ = io.WriteString(w, `{"items":[{"seq":3},{"seq":4}],"next_cursor":"4"}`)
		default:
			_, _ = io.WriteString(w, `{"items":[]}`)
		}
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Token: "t"})
	noErr(t, err)
	var seqs []int64
	err = c.EachAudit(t.Context(), store.AuditQuery{Limit: 2}, func(r audit.Record) error {
		seqs = append(seqs, r.Seq)
		return nil
	})
	noErr(t, err)
	mu.Lock()
	gotAfters := fmt.Sprint(afters)
	mu.Unlock()
	if fmt.Sprint(seqs) != "[1 2 3 4]" || gotAfters != "[ 2 4]" {
		t.Fatalf("seqs = %v, afters = %s", seqs, gotAfters)
	}

	stop := errors.New("stop")
	err = c.EachAudit(t.Context(), store.AuditQuery{}, func(audit.Record) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("error = %v, want the callback's error", err)
	}
}

func TestEachAuditRefusesAStuckCursor(t *testing.T) {
	c := fakeAPI(t, wantReq{method: "GET", path: "/api/v1/audit", query: url.Values{"after": {"9"}}},
		reply{body: `{"items":[],"next_cursor":"9"}`})
	err := c.EachAudit(t.Context(), store.AuditQuery{AfterSeq: 9}, func(audit.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "did not advance") {
		t.Fatalf("error = %v, want a stuck cursor error", err)
	}
}

func TestExportAudit(t *testing.T) {
	tests := []struct {
		name      string
		after     int64
		query     url.Values
		reply     reply
		wantLines int64
		wantOut   string
		wantErr   string
	}{
		{
			name:      "from the start",
			reply:     reply{body: "{\"seq\":1}\n{\"seq\":2}\n", header: map[string]string{"Content-Type": "application/x-ndjson"}},
			wantLines: 2, wantOut: "{\"seq\":1}\n{\"seq\":2}\n",
		},
		{
			name: "after a sequence", after: 7, query: url.Values{"after": {"7"}},
			reply:     reply{body: "{\"seq\":8}\n"},
			wantLines: 1, wantOut: "{\"seq\":8}\n",
		},
		{
			name:      "empty",
			reply:     reply{},
			wantLines: 0,
		},
		{
			name:      "cut inside a record",
			reply:     reply{body: "{\"seq\":1}\n{\"se"},
			wantLines: 1, wantOut: "{\"seq\":1}\n{\"se", wantErr: "ended inside a record after 1 records",
		},
		{
			name:      "interrupted by the server",
			reply:     reply{body: "{\"seq\":1}\n{\"error\":{\"code\":\"internal\",\"message\":\"export interrupted; resume with after=<last seq>\"}}\n"},
			wantLines: 1, wantOut: "{\"seq\":1}\n", wantErr: "the server stopped after 1 records: export interrupted",
		},
		{
			name:    "refused",
			reply:   reply{status: 403, body: `{"error":{"code":"forbidden","message":"this needs the viewer role; agent:x has agent"}}`},
			wantErr: "403 forbidden: this needs the viewer role; agent:x has agent",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeAPI(t, wantReq{method: "GET", path: "/api/v1/audit/export", query: tc.query}, tc.reply)
			var out strings.Builder
			n, err := c.ExportAudit(t.Context(), tc.after, &out)
			if tc.wantErr == "" {
				noErr(t, err)
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if n != tc.wantLines || out.String() != tc.wantOut {
				t.Errorf("wrote %d records %q, want %d %q", n, out.String(), tc.wantLines, tc.wantOut)
			}
		})
	}
}

func TestExportAuditWriterError(t *testing.T) {
	c := fakeAPI(t, wantReq{method: "GET", path: "/api/v1/audit/export"}, reply{body: "{\"seq\":1}\n"})
	_, err := c.ExportAudit(t.Context(), 0, failingWriter{})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("error = %v, want the writer's error", err)
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }
