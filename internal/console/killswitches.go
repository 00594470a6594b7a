package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

// maxReason bounds a reason typed into a form.
const maxReason = 1000

// killRow is one kill switch as the page shows it.
type killRow struct {
	store.KillSwitch
	// TargetName is the agent's name for an agent switch.
	TargetName string
}

// canAct reports whether the person's role may pull switches at all;
// the store's owner rules still apply to a release.
func canAct(s session) bool { return s.Role == "operator" || s.Role == "admin" }

// killSwitchList is /ui/killswitches: the engaged switches (all=1: every
// one), with the forms to engage and release for operators and admins.
func (c *Console) killSwitchList(w http.ResponseWriter, r *http.Request, s session) {
	c.renderKillSwitches(w, r, s, http.StatusOK, r.URL.Query().Get("message"))
}

func (c *Console) renderKillSwitches(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	all := r.URL.Query().Get("all") == "1"
	list, err := c.o.KillSwitches.List(r.Context(), !all)
	if err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: list kill switches", "err", err)
		c.render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Kill switches", Person: &s, CSRF: s.CSRF,
			Message: "The kill switches could not be read; try again."})
		return
	}
	rows := make([]killRow, len(list))
	names := map[string]string{}
	for i, ks := range list {
		rows[i] = killRow{KillSwitch: ks}
		if ks.Scope == store.ScopeAgent {
			rows[i].TargetName = c.agentName(r.Context(), names, ks.Target)
		}
	}
	c.render(w, status, "killswitches.html", pageData{Title: "Kill switches", Person: &s, CSRF: s.CSRF, Message: msg,
		Data: struct {
			All    bool
			CanAct bool
			Rows   []killRow
		}{all, canAct(s), rows}})
}

// agentName names an agent by id for a table, or returns the id.
func (c *Console) agentName(ctx context.Context, cache map[string]string, id string) string {
	if n, ok := cache[id]; ok {
		return n
	}
	n := id
	if a, err := c.o.Agents.Get(ctx, id); err == nil {
		n = a.Name
	}
	cache[id] = n
	return n
}

func (c *Console) engage(w http.ResponseWriter, r *http.Request, s session) {
	req := KillRequest{Scope: store.KillScope(r.PostFormValue("scope")), Target: strings.TrimSpace(r.PostFormValue("target")),
		Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if req.Reason == "" || len(req.Reason) > maxReason {
		c.renderKillSwitches(w, r, s, http.StatusBadRequest, "A reason is required (at most 1000 characters): it goes into the audit log.")
		return
	}
	ks, err := c.o.KillSwitches.Engage(r.Context(), s.person(), req)
	if err != nil {
		c.actionFailed(w, r, s, err)
		return
	}
	c.o.Logger.InfoContext(r.Context(), "console: kill switch engaged", "name", s.Name, "id", ks.ID, "scope", ks.Scope)
	http.Redirect(w, r, "/ui/killswitches?message="+url.QueryEscape(engagedMessage(req)), http.StatusSeeOther)
}

func (c *Console) release(w http.ResponseWriter, r *http.Request, s session) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > maxReason {
		c.renderKillSwitches(w, r, s, http.StatusBadRequest, "A reason is required (at most 1000 characters): it goes into the audit log.")
		return
	}
	ks, err := c.o.KillSwitches.Release(r.Context(), s.person(), r.PathValue("id"), reason)
	if err != nil {
		c.actionFailed(w, r, s, err)
		return
	}
	c.o.Logger.InfoContext(r.Context(), "console: kill switch released", "name", s.Name, "id", ks.ID)
	http.Redirect(w, r, "/ui/killswitches?message="+url.QueryEscape("Kill switch released."), http.StatusSeeOther)
}

// actionFailed shows why an action was refused, with the status the API
// would answer.
func (c *Console) actionFailed(w http.ResponseWriter, r *http.Request, s session, err error) {
	status, msg := c.refusal(r, err)
	c.renderKillSwitches(w, r, s, status, msg)
}

// refusal is the status and the words for an action's error: the error
// itself for a refusal the person can act on, a plain message (and a log
// line) for the rest.
func (c *Console) refusal(r *http.Request, err error) (int, string) {
	switch apperr.KindOf(err) {
	case apperr.KindForbidden:
		return http.StatusForbidden, err.Error()
	case apperr.KindNotFound:
		return http.StatusNotFound, err.Error()
	case apperr.KindInvalid:
		return http.StatusBadRequest, err.Error()
	case apperr.KindConflict:
		return http.StatusConflict, err.Error()
	}
	c.o.Logger.ErrorContext(r.Context(), "console: action failed", "path", r.URL.Path, "err", err)
	return http.StatusServiceUnavailable, "The action could not be done; try again."
}

// engagedMessage confirms an engage in the words the person used.
func engagedMessage(r KillRequest) string {
	if r.Scope == store.ScopeGlobal || r.Target == "" {
		return "Kill switch engaged: " + string(r.Scope) + "."
	}
	return "Kill switch engaged: " + string(r.Scope) + " " + r.Target + "."
}
