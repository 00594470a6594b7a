package console

import (
	"html/template"
	"net/http"
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
	"time": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
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
	c.render(w, http.StatusOK, "agent.html", pageData{Title: a.Name, Person: &s, CSRF: s.CSRF, Data: a})
}
