package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/replay"
)

// Bounds of GET /api/v1/policy/inputs.
const (
	defaultInputsMax = 100_000
	maxInputsMax     = 1_000_000
)

// errInputsEnough stops a scan at ?max=.
var errInputsEnough = errors.New("enough inputs")

// scanRecorded calls fn with each recorded input of [from, to) after
// after, decoded, at most limit of them; more says it stopped there.
func (s *Server) scanRecorded(ctx context.Context, from, to time.Time, after int64, limit int, fn func(replay.Recorded) error) (n int, more bool, err error) {
	err = s.store.ScanInputs(ctx, from, to, after, func(seq int64, at time.Time, body []byte) error {
		if n == limit {
			more = true
			return errInputsEnough
		}
		rec, err := s.inputs.Decode(seq, at, body)
		if err != nil {
			return err
		}
		n++
		return fn(rec)
	})
	if errors.Is(err, errInputsEnough) {
		err = nil
	}
	return n, more, err
}

// timeWindow reads ?from= (defaultFrom when absent) and ?to=.
func timeWindow(c *gin.Context, defaultFrom time.Time) (from, to time.Time, err error) {
	if from, err = parseTime(c, "from"); err != nil {
		return from, to, err
	}
	if to, err = parseTime(c, "to"); err != nil {
		return from, to, err
	}
	if from.IsZero() {
		from = defaultFrom
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, apperr.Invalid("from must be before to")
	}
	return from, to, nil
}

// exportInputs streams the recorded policy inputs of [from, to) as NDJSON,
// oldest first, for `admission policy replay`: one replay.Recorded a line,
// at most ?max= of them (default 100,000), then {"end": {"records": N,
// "more": bool}}; ?after= resumes after a seq.
func (s *Server) exportInputs(c *gin.Context) {
	from, to, err := timeWindow(c, time.Time{})
	if err != nil {
		s.fail(c, err)
		return
	}
	limit, err := intParam(c, "max", defaultInputsMax, maxInputsMax)
	if err != nil {
		s.fail(c, err)
		return
	}
	after := int64(0)
	if v := c.Query("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			s.fail(c, itoaErr("after", v))
			return
		}
	}
	noWriteDeadline(c)
	c.Header("Content-Type", "application/x-ndjson")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	n, more, err := s.scanRecorded(c.Request.Context(), from, to, after, limit, func(r replay.Recorded) error { return enc.Encode(r) })
	if err != nil {
		s.streamStopped(c.Request.Context(), "policy inputs export", err)
		_ = enc.Encode(apperr.Body{Error: apperr.Detail{Code: string(apperr.KindInternal), Message: "export interrupted; resume with after=<last seq>", RequestID: requestID(c)}})
		return
	}
	_ = enc.Encode(map[string]any{"end": map[string]any{"records": n, "more": more}})
}

// shadowReport evaluates the shadow policy on the recorded inputs of
// [from, to) (default: the last 24 hours) and answers what it would have
// changed: a replay.Report with the candidate's revision. ?max= bounds
// the decisions read, ?examples= the examples per change (default 5).
func (s *Server) shadowReport(c *gin.Context) {
	if s.shadow == nil {
		s.fail(c, apperr.New(apperr.KindUnavailable, "no shadow policy is configured (policy.shadow_dir)"))
		return
	}
	from, to, err := timeWindow(c, time.Now().Add(-24*time.Hour))
	if err != nil {
		s.fail(c, err)
		return
	}
	limit, err := intParam(c, "max", defaultInputsMax, maxInputsMax)
	if err != nil {
		s.fail(c, err)
		return
	}
	examples, err := intParam(c, "examples", 5, 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	noWriteDeadline(c)
	ctx := c.Request.Context()
	rep := replay.NewReport(examples)
	_, more, err := s.scanRecorded(ctx, from, to, 0, limit, func(rec replay.Recorded) error {
		res, err := s.shadow.Evaluate(ctx, rec.Input)
		rep.Add(rec, replay.Summarize(res.Decision), err)
		return nil
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ShadowReport{Report: rep, Candidate: s.shadow.Revision(), More: more})
}

// ShadowReport is the answer of GET /api/v1/policy/shadow.
type ShadowReport struct {
	*replay.Report
	Candidate string `json:"candidate_revision"`
	More      bool   `json:"more"`
}
