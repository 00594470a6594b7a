package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/config"
)

// TestPromotionFromTrackRecord runs the whole service: decisions through
// the gate make the record, the leader's pass proposes the next tier, and
// the agent's owner confirms it over the API; the agent's own token and a
// viewer cannot.
func TestPromotionFromTrackRecord(t *testing.T) {
	h, agentTok := promotionHarness(t)
	var rec struct {
		Record struct {
			Decisions int `json:"decisions"`
		} `json:"record"`
		Assessment struct {
			Eligible bool   `json:"eligible"`
			To       string `json:"to"`
		} `json:"assessment"`
		Pending *struct {
			ID string `json:"id"`
		} `json:"pending"`
	}
	h.mustCall(http.MethodGet, "/api/v1/agents/promo-bot/record", viewerToken, nil, http.StatusOK, &rec)
	if rec.Assessment.Eligible || rec.Record.Decisions != 0 {
		t.Fatalf("a fresh agent's record: %+v", rec)
	}
	proposeAfterBuilds(t, h)
	h.mustCall(http.MethodGet, "/api/v1/agents/promo-bot/record", viewerToken, nil, http.StatusOK, &rec)
	if !rec.Assessment.Eligible || rec.Assessment.To != "established" || rec.Record.Decisions != 3 || rec.Pending == nil {
		t.Fatalf("record after three builds and a pass: %+v", rec)
	}
	id := rec.Pending.ID
	var list struct {
		Items []struct {
			ID, State string
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/promotions?state=pending&agent=promo-bot", viewerToken, nil, http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("pending promotions %+v", list.Items)
	}
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{name: "the agent itself", token: agentTok, want: http.StatusForbidden},
		{name: "a viewer", token: viewerToken, want: http.StatusForbidden},
	} {
		if code := h.call(http.MethodPost, "/api/v1/promotions/"+id+"/confirm", tc.token, map[string]string{"note": "me"}, nil); code != tc.want {
			t.Fatalf("%s confirming: %d, want %d", tc.name, code, tc.want)
		}
	}
	var ag agentOut
	h.mustCall(http.MethodGet, "/api/v1/agents/promo-bot", viewerToken, nil, http.StatusOK, &ag)
	if ag.Tier != "new" {
		t.Fatalf("tier %s after refused confirmations", ag.Tier)
	}
	h.mustCall(http.MethodPost, "/api/v1/promotions/"+id+"/confirm", operatorToken, map[string]string{"note": "clean first week"}, http.StatusOK, nil)
	h.mustCall(http.MethodGet, "/api/v1/agents/promo-bot", viewerToken, nil, http.StatusOK, &ag)
	if ag.Tier != "established" {
		t.Fatalf("tier %s after the owner confirmed", ag.Tier)
	}
	var recs struct {
		Items []struct {
			Actor   string            `json:"actor"`
			Message string            `json:"message"`
			Details map[string]string `json:"details"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?kind=promotion_proposal", viewerToken, nil, http.StatusOK, &recs)
	if len(recs.Items) != 2 || recs.Items[0].Actor != "promotion" || recs.Items[0].Details["decisions"] != "3" ||
		recs.Items[1].Actor != "sre-oncall" || recs.Items[1].Message != "promotion to established applied" {
		t.Fatalf("proposal audit %+v", recs.Items)
	}
	if code := h.call(http.MethodPost, "/api/v1/promotions/"+id+"/refuse", operatorToken, map[string]string{"reason": "too late"}, nil); code != http.StatusConflict {
		t.Fatalf("refusing an applied proposal: %d", code)
	}
}

func TestPromotionOff(t *testing.T) {
	h := newHarness(t, "sqlite", func(c *config.Config) { c.Promotion.Mode = "off" })
	h.provision(codingAgent("idle-bot"))
	if h.app.Promotion != nil {
		t.Fatal("promotion.mode off built a promotion service")
	}
	if code := h.call(http.MethodGet, "/api/v1/agents/idle-bot/record", viewerToken, nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("record with promotion off: %d", code)
	}
}

// promotionHarness serves the built-in policy with promotion thresholds a
// test can meet at once, and promo-bot, a new coding agent owned by the
// operator token's name (sre-oncall).
func promotionHarness(t *testing.T) (*harness, string) {
	t.Helper()
	dir := copyBuiltin(t)
	settings := filepath.Join(dir, "data", "settings.yaml")
	b, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	// Thresholds a test can meet in a second.
	b = []byte(strings.Replace(string(b), "    default:\n      new:\n        min_decisions: 50\n        max_denial_rate: 0.05\n        min_age_days: 14\n        clean_days: 14\n",
		"    default:\n      new:\n        min_decisions: 3\n        max_denial_rate: 0.5\n        min_age_days: 0\n        clean_days: 0\n", 1))
	if err := os.WriteFile(settings, b, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, "sqlite", func(c *config.Config) { c.Policy.Dir = dir })
	spec := codingAgent("promo-bot")
	spec["owner"] = "sre-oncall"
	_, agentTok := h.provision(spec)
	return h, agentTok
}

// proposeAfterBuilds makes promo-bot's record with three builds and runs
// the leader's promotion pass.
func proposeAfterBuilds(t *testing.T, h *harness) {
	t.Helper()
	for range 3 {
		h.decide(build("github:promo-bot[bot]"))
	}
	if _, err := h.app.Promotion.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestConsolePromotion: the agent's page shows the proposal with the
// criteria behind it; a viewer sees no form and is refused when posting
// one anyway; the owner confirms it there.
func TestConsolePromotion(t *testing.T) {
	h, _ := promotionHarness(t)
	proposeAfterBuilds(t, h)
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/promotions?state=pending", viewerToken, nil, http.StatusOK, &list)
	if len(list.Items) != 1 {
		t.Fatalf("pending %+v", list.Items)
	}
	id := list.Items[0].ID
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	page := func(c *http.Client) string {
		t.Helper()
		resp, err := c.Get(srv.URL + "/ui/agents/promo-bot")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post := func(c *http.Client, csrf, verb string) int {
		t.Helper()
		resp, err := c.PostForm(srv.URL+"/ui/promotions/"+id+"/"+verb, url.Values{"csrf": {csrf}, "agent": {"promo-bot"}, "text": {"looks right"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	viewer, vcsrf := consoleSession(t, srv.URL, viewerToken)
	if p := page(viewer); !strings.Contains(p, "Proposed promotion to established") || !strings.Contains(p, "met: at least 3 decisions") ||
		strings.Contains(p, `id="confirm-promotion"`) {
		t.Fatalf("the viewer's agent page:\n%s", p)
	}
	if code := post(viewer, vcsrf, "confirm"); code != http.StatusForbidden {
		t.Fatalf("a viewer's confirmation answered %d", code)
	}
	owner, ocsrf := consoleSession(t, srv.URL, operatorToken)
	if p := page(owner); !strings.Contains(p, `id="confirm-promotion"`) {
		t.Fatalf("the owner's agent page has no confirm button:\n%s", p)
	}
	if code := post(owner, "", "confirm"); code != http.StatusForbidden {
		t.Fatalf("a confirmation without the form token answered %d", code)
	}
	if code := post(owner, ocsrf, "confirm"); code != http.StatusOK {
		t.Fatalf("the owner's confirmation ended at %d", code)
	}
	var ag agentOut
	h.mustCall(http.MethodGet, "/api/v1/agents/promo-bot", viewerToken, nil, http.StatusOK, &ag)
	if ag.Tier != "established" {
		t.Fatalf("tier %s after the owner confirmed in the console", ag.Tier)
	}
	if p := page(owner); strings.Contains(p, "Proposed promotion") || !strings.Contains(p, `<dd id="agent-tier">established</dd>`) {
		t.Fatalf("the agent page after confirming:\n%s", p)
	}
}
