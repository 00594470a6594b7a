package console

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

var funcs = template.FuncMap{
	"list": func(v ...string) []string { return v },
	"join": func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ", ")
	},
	// short abbreviates a commit sha to 12 characters.
	"short": func(sha string) string {
		if len(sha) > 12 {
			return sha[:12]
		}
		return sha
	},
	"clock": func(t time.Time) string { return t.UTC().Format("15:04") },
	"time":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"timePtr": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	},
}

// agentList is /ui/agents: every agent, or those whose name, owner or
// type contains q.
func (c *Console) agentList(w http.ResponseWriter, r *http.Request, s session) {
	list, err := c.o.Agents.List(r.Context(), store.AgentFilter{})
	if err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: list agents", "err", err)
		c.render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Agents", Person: &s, CSRF: s.CSRF,
			Message: "The agents could not be read; try again."})
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if q != "" {
		list = slices.DeleteFunc(list, func(a agents.Agent) bool {
			return !strings.Contains(a.Name, q) && !strings.Contains(strings.ToLower(a.Owner), q) && !strings.Contains(a.Type, q)
		})
	}
	slices.SortFunc(list, func(a, b agents.Agent) int { return strings.Compare(a.Name, b.Name) })
	c.render(w, http.StatusOK, "agents.html", pageData{Title: "Agents", Person: &s, CSRF: s.CSRF,
		Data: struct {
			Query  string
			Agents []agents.Agent
		}{q, list}})
}

// agentPage is /ui/agents/{name}: one agent by name (or id).
func (c *Console) agentPage(w http.ResponseWriter, r *http.Request, s session) {
	a, err := c.o.Agents.Get(r.Context(), r.PathValue("name"))
	if apperr.KindOf(err) == apperr.KindNotFound {
		c.render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Person: &s, CSRF: s.CSRF,
			Message: "There is no agent " + r.PathValue("name") + "."})
		return
	}
	if err != nil {
		c.o.Logger.ErrorContext(r.Context(), "console: get agent", "err", err)
		c.render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Agent", Person: &s, CSRF: s.CSRF,
			Message: "The agent could not be read; try again."})
		return
	}
	c.renderAgent(w, r, s, a, http.StatusOK, r.URL.Query().Get("message"))
}

// agentAction is POST /ui/agents/{name}/{action}: suspend, resume, kill,
// promote or demote, each with a required reason.
func (c *Console) agentAction(w http.ResponseWriter, r *http.Request, s session) {
	name, action := r.PathValue("name"), r.PathValue("action")
	switch action {
	case ActionSuspend, ActionResume, ActionKill, ActionPromote, ActionDemote:
	default:
		c.render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Person: &s, CSRF: s.CSRF, Message: "There is no action " + action + "."})
		return
	}
	a, err := c.o.Agents.Get(r.Context(), name)
	if err != nil {
		c.render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Person: &s, CSRF: s.CSRF, Message: "There is no agent " + name + "."})
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > maxReason {
		c.renderAgent(w, r, s, a, http.StatusBadRequest, "A reason is required (at most 1000 characters): it goes into the audit log.")
		return
	}
	if err := c.o.Actions.Act(r.Context(), s.person(), action, a.ID, reason); err != nil {
		status, msg := c.refusal(r, err)
		c.renderAgent(w, r, s, a, status, msg)
		return
	}
	c.o.Logger.InfoContext(r.Context(), "console: agent action", "name", s.Name, "action", action, "agent", a.Name)
	http.Redirect(w, r, "/ui/agents/"+url.PathEscape(a.Name)+"?message="+url.QueryEscape("Done: "+action+"."), http.StatusSeeOther)
}
