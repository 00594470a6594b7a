package console

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Usage is where the agent page reads an agent's quota usage;
// Options.Usage nil shows none.
type Usage interface {
	QuotaUsage(ctx context.Context, agentID string, now time.Time) ([]store.QuotaUsage, error)
}

// recordDays is the window of the track record on an agent's page.
const recordDays = 30

// recentShown is how many of an agent's decisions its page lists.
const recentShown = 10

// standing is what an agent's page shows of its use and record.
type standing struct {
	Quotas []store.QuotaUsage
	Record trackRecord
	// Recent are the agent's latest decisions, newest first.
	Recent []audit.Record
	// Proposal is the promotion waiting for a person, if any.
	Proposal *proposalView
	// Unreadable says some of it could not be read.
	Unreadable bool
}

// trackRecord counts an agent's audit records over the last recordDays.
type trackRecord struct {
	Days                             int
	Decisions, Allowed, Denied, Held int64
	Kills, Rollbacks, TierChanges    int64
	DeniedPercent                    int64
}

// standingOf reads an agent's quotas, track record and latest decisions.
// A part that cannot be read is left out and logged.
func (c *Console) standingOf(ctx context.Context, a agents.Agent) standing {
	var st standing
	fail := func(what string, err error) {
		c.o.Logger.ErrorContext(ctx, "console: agent "+what, "agent", a.Name, "err", err)
		st.Unreadable = true
	}
	now := c.o.Now()
	if c.o.Usage != nil {
		q, err := c.o.Usage.QuotaUsage(ctx, a.ID, now)
		if err != nil {
			fail("quota usage", err)
		}
		st.Quotas = q
	}
	st.Record.Days = recordDays
	from := now.Add(-recordDays * 24 * time.Hour)
	for _, k := range []audit.Kind{audit.KindDecision, audit.KindKill, audit.KindRollback, audit.KindPromotion} {
		counts, err := c.o.Audit.CountAudit(ctx, store.AuditCountQuery{Kind: k, AgentID: a.ID, From: from, To: now.Add(time.Second)})
		if err != nil {
			fail("track record", err)
			continue
		}
		for _, n := range counts {
			switch k {
			case audit.KindDecision:
				st.Record.Decisions += n.Count
				switch n.Outcome {
				case "allow":
					st.Record.Allowed += n.Count
				case "deny":
					st.Record.Denied += n.Count
				case "approval_required":
					st.Record.Held += n.Count
				}
			case audit.KindKill:
				st.Record.Kills += n.Count
			case audit.KindRollback:
				st.Record.Rollbacks += n.Count
			case audit.KindPromotion:
				st.Record.TierChanges += n.Count
			}
		}
	}
	if st.Record.Decisions > 0 {
		st.Record.DeniedPercent = st.Record.Denied * 100 / st.Record.Decisions
	}
	recent, err := c.o.Audit.QueryAudit(ctx, store.AuditQuery{AgentID: a.ID, Kind: audit.KindDecision, Newest: true, Limit: recentShown})
	if err != nil {
		fail("recent decisions", err)
	}
	slices.Reverse(recent)
	for i := range recent {
		if recent[i].AgentName == "" {
			recent[i].AgentName = a.Name
		}
	}
	st.Recent = recent
	if st.Proposal, err = c.pendingProposal(ctx, a.ID); err != nil {
		fail("pending promotion", err)
	}
	return st
}

// renderAgent shows an agent's page with its standing.
func (c *Console) renderAgent(w http.ResponseWriter, r *http.Request, s session, a agents.Agent, status int, msg string) {
	c.render(w, status, "agent.html", pageData{Title: a.Name, Person: &s, CSRF: s.CSRF, Message: msg,
		Data: struct {
			agents.Agent
			Operator, Admin bool
			Standing        standing
		}{a, canAct(s), s.Role == "admin", c.standingOf(r.Context(), a)}})
}
