package server

import (
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

type verifyResult struct {
	OK      bool         `json:"ok"`
	Checked int64        `json:"checked"`
	Head    string       `json:"head"`
	Break   *audit.Break `json:"break,omitempty"`
}

// verifyAudit walks the whole chain and reports the first break.
func (s *Server) verifyAudit(c *gin.Context) {
	noWriteDeadline(c)
	v := audit.NewVerifier()
	var brk *audit.Break
	err := s.store.ScanAudit(c.Request.Context(), 0, func(st audit.Stored) error {
		if b := v.Next(st); b != nil {
			brk = b
			return errBreak{}
		}
		return nil
	})
	if err != nil && brk == nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, verifyResult{OK: brk == nil, Checked: v.Checked(), Head: v.Head(), Break: brk})
}

type errBreak struct{}

func (errBreak) Error() string { return "chain broken" }

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
	noWriteDeadline(c)
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	err := s.store.ScanAudit(c.Request.Context(), after, func(st audit.Stored) error {
		r, err := st.Decode()
		if err != nil {
			return err
		}
		return enc.Encode(r)
	})
	if err != nil {
		// The status is already sent; end the stream with an error line
		// that no record has, so a client can tell it is incomplete.
		s.log.ErrorContext(c.Request.Context(), "audit export interrupted", "err", err)
		_ = enc.Encode(apperr.Body{Error: apperr.Detail{Code: string(apperr.KindInternal), Message: "export interrupted; resume with after=<last seq>", RequestID: requestID(c)}})
	}
}

// noWriteDeadline lifts the server's write timeout for a streaming answer.
func noWriteDeadline(c *gin.Context) {
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
}
