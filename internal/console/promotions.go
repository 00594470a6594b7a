package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentgate/agentgate/internal/store"
)

// Promotions is how an agent's page shows and decides the promotion its
// track record earned; Options.Promotions nil (promotion.mode off) shows
// none. The implementation decides who may: the agent's owner with the
// operator role, or an admin.
type Promotions interface {
	Pending(ctx context.Context, agentID string) (*store.Proposal, error)
	Decide(ctx context.Context, p Person, id string, confirm bool, text string) (store.Proposal, error)
}

// proposalView is a pending proposal as the agent page shows it.
type proposalView struct {
	store.Proposal
	Reasons  []string
	Criteria []struct {
		Name, Message string
		Met           bool
	}
}

func (c *Console) pendingProposal(ctx context.Context, agentID string) (*proposalView, error) {
	if c.o.Promotions == nil {
		return nil, nil
	}
	p, err := c.o.Promotions.Pending(ctx, agentID)
	if err != nil || p == nil {
		return nil, err
	}
	v := &proposalView{Proposal: *p}
	_ = json.Unmarshal(p.Evidence, v) // reasons and criteria; the rest shows without them
	return v, nil
}

// decidePromotion is POST /ui/promotions/{id}/confirm|refuse from an
// agent's page.
func (c *Console) decidePromotion(confirm bool) func(http.ResponseWriter, *http.Request, session) {
	return func(w http.ResponseWriter, r *http.Request, s session) {
		back := "/ui/agents/" + url.PathEscape(r.PostFormValue("agent"))
		if c.o.Promotions == nil {
			c.render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Person: &s, CSRF: s.CSRF, Message: "Promotion from track record is off."})
			return
		}
		text := strings.TrimSpace(r.PostFormValue("text"))
		if len(text) > maxReason || (!confirm && text == "") {
			http.Redirect(w, r, back+"?message="+url.QueryEscape("Refusing a promotion needs a reason (at most 1000 characters)."), http.StatusSeeOther)
			return
		}
		p, err := c.o.Promotions.Decide(r.Context(), s.person(), r.PathValue("id"), confirm, text)
		if err != nil {
			status, msg := c.refusal(r, err)
			c.render(w, status, "error.html", pageData{Title: "Promotion", Person: &s, CSRF: s.CSRF, Message: msg})
			return
		}
		c.o.Logger.InfoContext(r.Context(), "console: promotion decided", "name", s.Name, "agent", p.AgentName, "state", p.State)
		http.Redirect(w, r, "/ui/agents/"+url.PathEscape(p.AgentName)+"?message="+url.QueryEscape("Promotion to "+string(p.ToTier)+" "+string(p.State)+"."), http.StatusSeeOther)
	}
}
