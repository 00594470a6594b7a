package console

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// liveMax is how long one live stream lasts; the browser then reconnects
// by itself, with the id of the last decision it got.
const liveMax = 5 * time.Minute

// overview is /ui/: what needs a person now (pending approvals, engaged
// kill switches) and the decisions as they are made.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	pending, err := c.o.Approvals.List(ctx, store.ApprovalFilter{State: store.ApprovalPending})
	if err != nil {
		c.o.Logger.ErrorContext(ctx, "console: overview approvals", "err", err)
	}
	kills, kerr := c.o.KillSwitches.List(ctx, true)
	if kerr != nil {
		c.o.Logger.ErrorContext(ctx, "console: overview kill switches", "err", kerr)
	}
	rate, rerr := c.decisionRate(r)
	if rerr != nil {
		c.o.Logger.ErrorContext(ctx, "console: overview decisions per minute", "err", rerr)
	}
	c.render(w, http.StatusOK, "overview.html", pageData{Title: "Overview", Person: &s, CSRF: s.CSRF,
		Data: struct {
			Pending, Kills int
			Rate           rateView
			Unreadable     bool
		}{len(pending), len(kills), rate, err != nil || kerr != nil || rerr != nil}})
}

// rateMinutes is how many minutes the overview counts decisions over.
const rateMinutes = 15

// rateOutcomes are the outcomes the overview counts, in column order.
var rateOutcomes = []string{"allow", "deny", "approval_required"}

// rateView is the overview's decisions per minute by outcome: one row per
// minute, oldest first, the current minute last.
type rateView struct {
	Rows                          []rateRow
	Total, Allow, Deny, Approvals int64
}

type rateRow struct {
	Minute time.Time
	// Counts follow rateOutcomes; Other counts any other outcome.
	Counts []int64
	Other  int64
	Total  int64
	// Widths are the bar's parts in percent of the busiest minute.
	Widths []int
}

// decisionRate counts the decisions of the last rateMinutes minutes.
func (c *Console) decisionRate(r *http.Request) (rateView, error) {
	end := c.o.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	start := end.Add(-rateMinutes * time.Minute)
	counts, err := c.o.Audit.CountAudit(r.Context(), store.AuditCountQuery{Kind: audit.KindDecision, From: start, To: end, Every: time.Minute})
	if err != nil {
		return rateView{}, err
	}
	var v rateView
	v.Rows = make([]rateRow, rateMinutes)
	for i := range v.Rows {
		v.Rows[i] = rateRow{Minute: start.Add(time.Duration(i) * time.Minute), Counts: make([]int64, len(rateOutcomes))}
	}
	for _, n := range counts {
		i := int(n.Start.Sub(start) / time.Minute)
		if i < 0 || i >= rateMinutes {
			continue
		}
		row := &v.Rows[i]
		row.Total += n.Count
		v.Total += n.Count
		if j := slices.Index(rateOutcomes, n.Outcome); j >= 0 {
			row.Counts[j] += n.Count
		} else {
			row.Other += n.Count
		}
	}
	var busiest int64
	for _, row := range v.Rows {
		busiest = max(busiest, row.Total)
		v.Allow += row.Counts[0]
		v.Deny += row.Counts[1]
		v.Approvals += row.Counts[2]
	}
	for i := range v.Rows {
		row := &v.Rows[i]
		row.Widths = make([]int, len(rateOutcomes)+1)
		if busiest == 0 {
			continue
		}
		for j, n := range append(slices.Clone(row.Counts), row.Other) {
			row.Widths[j] = int(n * 100 / busiest)
		}
	}
	return v, nil
}

// live is /ui/live: a server-sent event stream of the decisions recorded
// from now on, one rendered table row each. It reads the shared audit log,
// so it shows every replica's decisions, and stops when the browser goes.
func (c *Console) live(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	after, err := c.o.Audit.AuditHead(ctx)
	if err != nil {
		http.Error(w, "the audit log could not be read", http.StatusServiceUnavailable)
		return
	}
	// A browser reconnecting (the stream ends every liveMax) picks up
	// after the last decision it was sent.
	if last, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && last >= 0 && last < after {
		after = last
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": agentgate decisions\n\n")
	_ = rc.Flush()
	tick := time.NewTicker(c.o.LiveEvery)
	defer tick.Stop()
	end := time.After(liveMax)
	names := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-end:
			return
		case <-tick.C:
		}
		recs, err := c.o.Audit.QueryAudit(ctx, store.AuditQuery{AfterSeq: after, Kind: audit.KindDecision, Limit: 100})
		if err != nil {
			return
		}
		for _, rec := range recs {
			after = rec.Seq
			if rec.AgentName == "" && rec.AgentID != "" {
				rec.AgentName = c.agentName(ctx, names, rec.AgentID)
			}
			var row bytes.Buffer
			if err := c.pages.ExecuteTemplate(&row, "live-row", rec); err != nil {
				c.o.Logger.ErrorContext(ctx, "console: render live row", "err", err)
				return
			}
			if _, err := fmt.Fprintf(w, "event: decision\nid: %d\ndata: %s\n\n", rec.Seq, strings.ReplaceAll(row.String(), "\n", " ")); err != nil {
				return
			}
		}
		if len(recs) > 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
