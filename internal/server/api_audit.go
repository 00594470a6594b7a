package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

type auditPage struct {
	Items []audit.Record `json:"items"`
	// NextCursor is the after= value for the next page; empty at the end.
	NextCursor string `json:"next_cursor,omitempty"`
}

func parseTime(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, itoaErr(name, v)
	}
	return t, nil
}

func (s *Server) auditQuery(c *gin.Context) (store.AuditQuery, error) {
	q := store.AuditQuery{AgentID: c.Query("agent"), Owner: c.Query("owner"), Outcome: c.Query("outcome"),
		Provider: c.Query("provider"), Kind: audit.Kind(c.Query("kind")), Limit: 100}
	var err error
	if q.From, err = parseTime(c, "from"); err != nil {
		return q, err
	}
	if q.To, err = parseTime(c, "to"); err != nil {
		return q, err
	}
	if v := c.Query("after"); v != "" {
		if q.AfterSeq, err = strconv.ParseInt(v, 10, 64); err != nil || q.AfterSeq < 0 {
			return q, itoaErr("after", v)
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return q, itoaErr("limit", v)
		}
		q.Limit = n
	}
	if q.AgentID != "" {
		if a, err := s.registry.Get(c.Request.Context(), q.AgentID); err == nil {
			q.AgentID = a.ID
		}
	}
	return q, nil
}

func (s *Server) queryAudit(c *gin.Context) {
	q, err := s.auditQuery(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	recs, err := s.store.QueryAudit(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	page := auditPage{Items: recs}
	if page.Items == nil {
		page.Items = []audit.Record{}
	}
	if len(recs) == q.Limit {
		page.NextCursor = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	c.JSON(http.StatusOK, page)
}

// headerAuditHead carries the audit log's head seq on the streaming audit
// routes, read as the stream starts: what a progress bar counts up to.
const headerAuditHead = "X-Audit-Head-Seq"

// progressEvery is how often a streamed verification reports progress.
const progressEvery = time.Second

// verifyAudit walks the whole chain and reports the first break. With
// progress=true it streams NDJSON instead: {"progress":{...}} lines after
// the first record and then about once a second, then one {"result":{...}} line (or an {"error":...} line).
func (s *Server) verifyAudit(c *gin.Context) {
	stream := false
	if v := c.Query("progress"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(c, itoaErr("progress", v))
			return
		}
		stream = b
	}
	noWriteDeadline(c)
	ctx := c.Request.Context()
	var enc *json.Encoder
	var total int64
	if stream {
		head, err := s.store.AuditHead(ctx)
		if err != nil {
			s.fail(c, err)
			return
		}
		total = head
		c.Header(headerAuditHead, strconv.FormatInt(head, 10))
		c.Header("Content-Type", "application/x-ndjson")
		c.Status(http.StatusOK)
		enc = json.NewEncoder(c.Writer)
	}
	var last time.Time // the first record is reported at once
	var progress func(audit.Stored, *audit.Verifier) error
	if enc != nil {
		progress = func(st audit.Stored, v *audit.Verifier) error {
			if time.Since(last) < progressEvery {
				return nil
			}
			last = time.Now()
			if err := enc.Encode(verifyEvent{Progress: &verifyProgress{Checked: v.Checked(), Total: max(total, st.Seq)}}); err != nil {
				return err
			}
			c.Writer.Flush()
			return nil
		}
	}
	res, err := audit.VerifyChain(ctx, s.store.ScanAudit, progress)
	switch {
	case err != nil && enc == nil:
		s.fail(c, err)
	case err != nil:
		s.streamStopped(ctx, "audit verification", err)
		_ = enc.Encode(apperr.Body{Error: apperr.Detail{Code: string(apperr.KindInternal), Message: "verification interrupted", RequestID: requestID(c)}})
	case enc != nil:
		_ = enc.Encode(verifyEvent{Result: &res})
	default:
		c.JSON(http.StatusOK, res)
	}
}

// verifyEvent is one line of a streamed verification.
type verifyEvent struct {
	Progress *verifyProgress `json:"progress,omitempty"`
	Result   *audit.Result   `json:"result,omitempty"`
}

type verifyProgress struct {
	Checked int64 `json:"checked"`
	// Total is the head seq when the verification began (or the highest
	// seq seen since, if records were appended meanwhile).
	Total int64 `json:"total"`
}

// exportAudit streams the log as JSON lines, one record per line with its hash.
func (s *Server) exportAudit(c *gin.Context) {
	after := int64(0)
	if v := c.Query("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(c, itoaErr("after", v))
			return
		}
		after = n
	}
	head, err := s.store.AuditHead(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	noWriteDeadline(c)
	c.Header(headerAuditHead, strconv.FormatInt(head, 10))
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	err = s.store.ScanAudit(c.Request.Context(), after, func(st audit.Stored) error {
		r, err := st.Decode()
		if err != nil {
			return err
		}
		return enc.Encode(r)
	})
	if err != nil {
		// The status is already sent; end the stream with an error line
		// that no record has, so a client can tell it is incomplete.
		s.streamStopped(c.Request.Context(), "audit export", err)
		_ = enc.Encode(apperr.Body{Error: apperr.Detail{Code: string(apperr.KindInternal), Message: "export interrupted; resume with after=<last seq>", RequestID: requestID(c)}})
	}
}

// streamStopped logs a stream that ended early: at INFO when the client
// went away (nothing is wrong with the server, and nothing should page),
// at ERROR otherwise.
func (s *Server) streamStopped(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		s.log.InfoContext(ctx, what+" stopped: the client went away", "err", err)
		return
	}
	s.log.ErrorContext(ctx, what+" interrupted", "err", err)
}

// noWriteDeadline lifts the server's write timeout for a streaming answer.
func noWriteDeadline(c *gin.Context) {
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
}
