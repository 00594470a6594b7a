package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// AuditPage is one page of an audit query.
type AuditPage struct {
	Items []audit.Record `json:"items"`
	// NextCursor is the AfterSeq of the next page; empty at the end.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Next returns the AfterSeq that fetches the page after this one, and false
// when this is the last page.
func (p AuditPage) Next() (int64, bool, error) {
	if p.NextCursor == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(p.NextCursor, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("client: next_cursor %q is not a sequence number: %w", p.NextCursor, err)
	}
	return n, true, nil
}

// Verification is the result of checking the whole audit hash chain.
type Verification struct {
	OK      bool  `json:"ok"`
	Checked int64 `json:"checked"`
	// Head is the hash of the last intact record.
	Head string `json:"head"`
	// Break is where the chain stops being intact; nil when OK.
	Break *audit.Break `json:"break,omitempty"`
}

// QueryAudit returns one page of audit records matching q in ascending
// sequence order after q.AfterSeq (q.Limit per page: server default 100,
// at most 1000). AgentID may also be an agent's name.
func (c *Client) QueryAudit(ctx context.Context, q store.AuditQuery) (AuditPage, error) {
	v := url.Values{}
	setIf(v, "agent", q.AgentID)
	setIf(v, "owner", q.Owner)
	setIf(v, "outcome", q.Outcome)
	setIf(v, "provider", q.Provider)
	setIf(v, "kind", string(q.Kind))
	setTime(v, "from", q.From)
	setTime(v, "to", q.To)
	if q.AfterSeq > 0 {
		v.Set("after", strconv.FormatInt(q.AfterSeq, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var page AuditPage
	if err := c.do(ctx, http.MethodGet, "/audit", v, nil, &page); err != nil {
		return AuditPage{}, err
	}
	if page.Items == nil {
		page.Items = []audit.Record{}
	}
	return page, nil
}

// EachAudit calls fn for every record matching q from q.AfterSeq on,
// following the cursor page by page until the end. It stops at the first
// error from fn or from the server.
func (c *Client) EachAudit(ctx context.Context, q store.AuditQuery, fn func(audit.Record) error) error {
	for {
		page, err := c.QueryAudit(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page.Items {
			if err := fn(r); err != nil {
				return err
			}
		}
		next, more, err := page.Next()
		if err != nil || !more {
			return err
		}
		if next <= q.AfterSeq {
			return fmt.Errorf("client: audit cursor did not advance past %d", q.AfterSeq)
		}
		q.AfterSeq = next
	}
}

// VerifyAudit walks the whole audit chain on the server and reports the
// first break. A broken chain is not an error: check Verification.OK.
func (c *Client) VerifyAudit(ctx context.Context) (Verification, error) {
	var v Verification
	err := c.do(ctx, http.MethodGet, "/audit/verify", nil, nil, &v)
	return v, err
}

// Progress is told how far a long audit operation has got: done of about
// total records. total is the log's head when the operation began (never
// less than done), or -1 when the server did not say.
type Progress func(done, total int64)

// VerifyAuditProgress is VerifyAudit with progress reports, about once a
// second, while the server walks the chain.
func (c *Client) VerifyAuditProgress(ctx context.Context, progress Progress) (Verification, error) {
	resp, err := c.send(ctx, http.MethodGet, "/audit/verify", url.Values{"progress": {"true"}}, nil)
	if err != nil {
		return Verification{}, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var ev struct {
			Progress *struct {
				Checked int64 `json:"checked"`
				Total   int64 `json:"total"`
			} `json:"progress"`
			Result *Verification `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
			// A server older than the stream answers the plain result.
			OK      *bool        `json:"ok"`
			Checked int64        `json:"checked"`
			Head    string       `json:"head"`
			Break   *audit.Break `json:"break"`
		}
		if err := dec.Decode(&ev); err != nil {
			return Verification{}, fmt.Errorf("GET /audit/verify: the stream ended before the result: %w", err)
		}
		switch {
		case ev.Result != nil:
			return *ev.Result, nil
		case ev.OK != nil:
			return Verification{OK: *ev.OK, Checked: ev.Checked, Head: ev.Head, Break: ev.Break}, nil
		case ev.Error != nil:
			return Verification{}, fmt.Errorf("GET /audit/verify: the server stopped: %s", ev.Error.Message)
		case ev.Progress != nil && progress != nil:
			progress(ev.Progress.Checked, ev.Progress.Total)
		}
	}
}

// ExportAudit streams the audit log after sequence after as JSON lines
// (one record with its hash per line) to w, and returns how many records
// it wrote. The http.Client's Timeout bounds the whole export.
func (c *Client) ExportAudit(ctx context.Context, after int64, w io.Writer) (int64, error) {
	return c.ExportAuditProgress(ctx, after, w, nil)
}

// ExportAuditProgress is ExportAudit that reports each record written, of
// the records the log held after sequence after when the export began.
func (c *Client) ExportAuditProgress(ctx context.Context, after int64, w io.Writer, progress Progress) (int64, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	resp, err := c.send(ctx, http.MethodGet, "/audit/export", q, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := int64(-1)
	if head, err := strconv.ParseInt(resp.Header.Get("X-Audit-Head-Seq"), 10, 64); err == nil {
		total = max(head-after, 0)
	}
	lc := &lineCounter{w: w}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if bytes.HasPrefix(line, []byte(`{"error":`)) {
			// The server ends an interrupted export with an error line,
			// which is not a record.
			var e errorBody
			_ = json.Unmarshal(line, &e)
			return lc.lines, fmt.Errorf("GET /audit/export: the server stopped after %d records: %s", lc.lines, e.Error.Message)
		}
		if _, werr := lc.Write(line); werr != nil {
			return lc.lines, werr
		}
		if progress != nil && len(line) > 0 && line[len(line)-1] == '\n' {
			if total >= 0 {
				progress(lc.lines, max(total, lc.lines))
			} else {
				progress(lc.lines, -1)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return lc.lines, fmt.Errorf("GET /audit/export: after %d records: %w", lc.lines, err)
		}
	}
	if lc.partial {
		return lc.lines, fmt.Errorf("GET /audit/export: the stream ended inside a record after %d records", lc.lines)
	}
	return lc.lines, nil
}

// lineCounter counts the newline-terminated lines written through it.
type lineCounter struct {
	w       io.Writer
	lines   int64
	partial bool // the last byte written was not a newline
}

func (l *lineCounter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	l.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
	if n > 0 {
		l.partial = p[n-1] != '\n'
	}
	return n, err
}
