package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// auditPage is how many records the explorer shows at a time.
const auditPage = 50

// auditFilter is the explorer's form, as the query string carries it.
type auditFilter struct {
	Agent, Owner, Outcome, Provider, Kind, From, To string
}

// auditList is /ui/audit: records oldest first from the cursor, filtered
// by agent (name or id), owner, outcome, provider, kind and time.
func (c *Console) auditList(w http.ResponseWriter, r *http.Request, s session) {
	c.renderAuditMessage(w, r, s, "")
}

// renderAuditMessage renders the explorer for r's query with msg on top.
func (c *Console) renderAuditMessage(w http.ResponseWriter, r *http.Request, s session, msg string) {
	v := r.URL.Query()
	f := auditFilter{Agent: strings.TrimSpace(v.Get("agent")), Owner: strings.TrimSpace(v.Get("owner")), Outcome: v.Get("outcome"),
		Provider: strings.TrimSpace(v.Get("provider")), Kind: v.Get("kind"), From: v.Get("from"), To: v.Get("to")}
	q := store.AuditQuery{Owner: f.Owner, Outcome: f.Outcome, Provider: f.Provider, Kind: audit.Kind(f.Kind), Limit: auditPage}
	fail := func(status int, msg string) {
		c.render(w, status, "audit.html", pageData{Title: "Audit", Person: &s, CSRF: s.CSRF, Message: msg,
			Data: struct {
				Filter  auditFilter
				Records []audit.Record
				Next    string
			}{Filter: f}})
	}
	if after := v.Get("after"); after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 0 {
			fail(http.StatusBadRequest, "The page cursor is not a sequence number.")
			return
		}
		q.AfterSeq = n
	}
	var err error
	if q.From, err = formTime(f.From); err != nil {
		fail(http.StatusBadRequest, "From is not a time such as 2026-12-04T09:30.")
		return
	}
	if q.To, err = formTime(f.To); err != nil {
		fail(http.StatusBadRequest, "To is not a time such as 2026-12-04T10:30.")
		return
	}
	if f.Agent != "" {
		a, err := c.o.Agents.Get(r.Context(), f.Agent)
		if apperr.KindOf(err) == apperr.KindNotFound {
			fail(http.StatusOK, "There is no agent "+f.Agent+".")
			return
		}
		if err != nil {
			fail(http.StatusServiceUnavailable, "The agent could not be read; try again.")
			return
		}
		q.AgentID = a.ID
	}
	recs, err := c.o.Audit.QueryAudit(r.Context(), q)
	if err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: query audit", "err", err)
		fail(http.StatusServiceUnavailable, "The audit log could not be read; try again.")
		return
	}
	next := ""
	if len(recs) == auditPage {
		nv := url.Values{}
		for k, vs := range v {
			nv[k] = vs
		}
		nv.Set("after", strconv.FormatInt(recs[len(recs)-1].Seq, 10))
		next = "/ui/audit?" + nv.Encode()
	}
	c.render(w, http.StatusOK, "audit.html", pageData{Title: "Audit", Person: &s, CSRF: s.CSRF, Message: msg,
		Data: struct {
			Filter  auditFilter
			Records []audit.Record
			Next    string
		}{f, recs, next}})
}

// auditRecord is /ui/audit/{seq}: one record in full.
func (c *Console) auditRecord(w http.ResponseWriter, r *http.Request, s session) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		c.render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Person: &s, CSRF: s.CSRF, Message: "There is no audit record " + r.PathValue("seq") + "."})
		return
	}
	recs, err := c.o.Audit.QueryAudit(r.Context(), store.AuditQuery{AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: read audit record", "err", err)
		c.render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Audit", Person: &s, CSRF: s.CSRF, Message: "The audit log could not be read; try again."})
		return
	}
	if len(recs) == 0 || recs[0].Seq != seq {
		c.render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Person: &s, CSRF: s.CSRF, Message: "There is no audit record " + r.PathValue("seq") + "."})
		return
	}
	c.render(w, http.StatusOK, "record.html", pageData{Title: "Audit record " + strconv.FormatInt(seq, 10), Person: &s, CSRF: s.CSRF, Data: recs[0]})
}

// formTime reads a time from the explorer's form: a browser's
// datetime-local value (taken as UTC) or RFC 3339; empty is no bound.
func formTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, apperr.Invalid("time %q", v)
}

// verifyChain is POST /ui/audit/verify: it walks the whole chain, as
// `admission audit verify` does, and shows the result above the log.
// It is a POST so that no prefetch starts the walk, which takes about a
// second per 100,000 records.
func (c *Console) verifyChain(w http.ResponseWriter, r *http.Request, s session) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	res, err := audit.VerifyChain(r.Context(), c.o.Audit.ScanAudit, nil)
	msg := ""
	switch {
	case err != nil:
		c.o.Logger.ErrorContext(r.Context(), "console: verify audit chain", "err", err)
		msg = "The chain could not be read to the end; try again."
	case res.Break != nil:
		msg = fmt.Sprintf("Chain BROKEN at record %d: %s (%d records checked, last good head %s).", res.Break.Seq, res.Break.Reason, res.Checked, res.Head)
		c.o.Logger.WarnContext(r.Context(), "console: audit chain broken", "name", s.Name, "seq", res.Break.Seq, "reason", res.Break.Reason)
	default:
		msg = fmt.Sprintf("Chain intact: %d records checked, head %s.", res.Checked, res.Head)
	}
	r.URL.RawQuery = ""
	c.renderAuditMessage(w, r, s, msg)
}
