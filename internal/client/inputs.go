package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/agentgate/agentgate/internal/replay"
)

// InputsQuery selects recorded policy inputs; zero fields are unbounded.
type InputsQuery struct {
	From, To time.Time
	// Max is the most records the server sends (0: its default).
	Max int
}

// ScanInputs streams the recorded policy inputs of q, oldest first
// (GET /api/v1/policy/inputs), calling fn for each; more says the server
// stopped at Max with more to send.
func (c *Client) ScanInputs(ctx context.Context, q InputsQuery, fn func(replay.Recorded) error) (n int, more bool, err error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.Max > 0 {
		v.Set("max", strconv.Itoa(q.Max))
	}
	resp, err := c.send(ctx, http.MethodGet, "/policy/inputs", v, nil)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, rerr := r.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0:
		case bytes.HasPrefix(line, []byte(`{"error":`)):
			var e errorBody
			_ = json.Unmarshal(line, &e)
			return n, false, fmt.Errorf("GET /policy/inputs: the server stopped after %d records: %s", n, e.Error.Message)
		case bytes.HasPrefix(line, []byte(`{"end":`)):
			var end struct {
				End struct {
					Records int  `json:"records"`
					More    bool `json:"more"`
				} `json:"end"`
			}
			if err := json.Unmarshal(line, &end); err != nil {
				return n, false, fmt.Errorf("GET /policy/inputs: %w", err)
			}
			if end.End.Records != n {
				return n, false, fmt.Errorf("GET /policy/inputs: the server sent %d records and counted %d", n, end.End.Records)
			}
			return n, end.End.More, nil
		default:
			var rec replay.Recorded
			if err := json.Unmarshal(line, &rec); err != nil {
				return n, false, fmt.Errorf("GET /policy/inputs: record %d: %w", n+1, err)
			}
			n++
			if err := fn(rec); err != nil {
				return n, false, err
			}
		}
		if rerr != nil {
			return n, false, fmt.Errorf("GET /policy/inputs: the stream ended after %d records without its end line: %w", n, rerr)
		}
	}
}

// ShadowReport is what the shadow policy would have changed
// (GET /api/v1/policy/shadow).
type ShadowReport struct {
	replay.Report
	Candidate string `json:"candidate_revision"`
	More      bool   `json:"more"`
}

// ShadowReport asks the server to evaluate its shadow policy on the
// recorded decisions of q (From zero: the last 24 hours).
func (c *Client) ShadowReport(ctx context.Context, q InputsQuery, examples int) (ShadowReport, error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.Max > 0 {
		v.Set("max", strconv.Itoa(q.Max))
	}
	if examples > 0 {
		v.Set("examples", strconv.Itoa(examples))
	}
	var out ShadowReport
	err := c.do(ctx, http.MethodGet, "/policy/shadow", v, nil, &out)
	return out, err
}
