package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/agentgate/agentgate/internal/store"
)

// approvalRow is one held change as the page shows it.
type approvalRow struct {
	store.Approval
	AgentName string
}

// approvalList is /ui/approvals: the pending approvals (all=1: every
// one), each with the exact change it holds and the forms to decide it.
func (c *Console) approvalList(w http.ResponseWriter, r *http.Request, s session) {
	c.renderApprovals(w, r, s, http.StatusOK, r.URL.Query().Get("message"))
}

func (c *Console) renderApprovals(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	all := r.URL.Query().Get("all") == "1"
	f := store.ApprovalFilter{State: store.ApprovalPending}
	if all {
		f.State = ""
	}
	list, err := c.o.Approvals.List(r.Context(), f)
	if err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: list approvals", "err", err)
		c.render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Approvals", Person: &s, CSRF: s.CSRF,
			Message: "The approvals could not be read; try again."})
		return
	}
	names := map[string]string{}
	rows := make([]approvalRow, len(list))
	for i, a := range list {
		rows[i] = approvalRow{Approval: a, AgentName: c.agentName(r.Context(), names, a.AgentID)}
	}
	c.render(w, status, "approvals.html", pageData{Title: "Approvals", Person: &s, CSRF: s.CSRF, Message: msg,
		Data: struct {
			All  bool
			Rows []approvalRow
		}{all, rows}})
}

// resolve approves or rejects one approval as the signed-in person.
func (c *Console) resolve(approve bool) func(http.ResponseWriter, *http.Request, session) {
	return func(w http.ResponseWriter, r *http.Request, s session) {
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if len(reason) > maxReason || (!approve && reason == "") {
			c.renderApprovals(w, r, s, http.StatusBadRequest, "Rejecting needs a reason (at most 1000 characters): the CI system shows it.")
			return
		}
		a, err := c.o.Approvals.Resolve(r.Context(), s.person(), r.PathValue("id"), approve, reason)
		if err != nil {
			status, msg := c.refusal(r, err)
			c.renderApprovals(w, r, s, status, msg)
			return
		}
		c.o.Logger.InfoContext(r.Context(), "console: approval resolved", "name", s.Name, "id", a.ID, "state", a.State)
		http.Redirect(w, r, "/ui/approvals?message="+url.QueryEscape("Approval "+string(a.State)+"."), http.StatusSeeOther)
	}
}
