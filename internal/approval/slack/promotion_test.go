package slack

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/promotion"
	"github.com/agentgate/agentgate/internal/store"
)

const (
	proposalID = "5c1f9a2e-7b3d-4e8f-9a1b-2c3d4e5f6a7b"
	ownerID    = "U0OWNER"
)

// fakePromotions keeps one proposal and applies the service's rule of who
// may decide (an admin, or the owner with the operator role).
type fakePromotions struct {
	mu    sync.Mutex
	p     store.Proposal
	calls []promotion.Person
}

func (f *fakePromotions) Proposal(_ context.Context, id string) (store.Proposal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.p.ID {
		return store.Proposal{}, apperr.NotFound("promotion proposal %q not found", id)
	}
	return f.p, nil
}

func (f *fakePromotions) decide(who promotion.Person, id string, state store.ProposalState) (store.Proposal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, who)
	if id != f.p.ID {
		return store.Proposal{}, apperr.NotFound("promotion proposal %q not found", id)
	}
	if !(who.Role == config.RoleAdmin || who.Role.Rank() >= config.RoleOperator.Rank() && strings.EqualFold(who.Name, f.p.Owner)) {
		return store.Proposal{}, apperr.Forbidden("only an admin or the agent's owner (%s) may decide its promotion", f.p.Owner)
	}
	if f.p.State != store.ProposalPending {
		return store.Proposal{}, apperr.Conflict("promotion proposal %s is already %s", id, f.p.State)
	}
	f.p.State, f.p.ResolvedBy = state, who.Name
	return f.p, nil
}

func (f *fakePromotions) Confirm(_ context.Context, who promotion.Person, id, _ string) (store.Proposal, error) {
	return f.decide(who, id, store.ProposalApplied)
}

func (f *fakePromotions) Refuse(_ context.Context, who promotion.Person, id, _ string) (store.Proposal, error) {
	return f.decide(who, id, store.ProposalRefused)
}

func testProposal() store.Proposal {
	ev, _ := json.Marshal(promotion.Evidence{Reasons: []string{"meets every threshold for established"}})
	return store.Proposal{ID: proposalID, AgentID: "a-1", AgentName: "pay-coder", Owner: "payments@example.com",
		FromTier: "new", ToTier: "established", State: store.ProposalPending, Evidence: ev, CreatedAt: time.Unix(fixtureTS, 0)}
}

// clickPromotion is a block_actions payload of a promotion button from user.
func clickPromotion(t *testing.T, action, user string) []byte {
	return payload(t, "block_actions_approve", func(p map[string]any) {
		asUser(user)(p)
		acts := p["actions"].([]any)
		act := acts[0].(map[string]any)
		act["action_id"], act["value"] = action, proposalID
	})
}

func TestPromotionInSlack(t *testing.T) {
	promos := &fakePromotions{p: testProposal()}
	e := newEnv(t, func(o *Options) { o.Promotions = promos })
	e.slack.emails[ownerID] = "Payments@Example.com"
	e.slack.emails["U0STRANGER"] = "mallory@example.com"

	e.n.PromotionProposed(context.Background(), promos.p)
	e.wait()
	posts := e.slack.called("chat.postMessage")
	if len(posts) != 1 || posts[0].Form.Get("channel") != "C0DEFAULT" {
		t.Fatalf("posted %+v", posts)
	}
	raw := postedBlocks(t, posts[0])
	b := buttons(t, raw)
	if b[actionPromoConfirm]["value"] != proposalID || b[actionPromoRefuse]["value"] != proposalID || !strings.Contains(raw, "pay-coder") {
		t.Fatalf("proposal message %s", raw)
	}

	// Someone else: the service refuses, the message stays.
	ts := signedRequest(testSecret, fixtureTS, clickPromotion(t, actionPromoConfirm, "U0STRANGER"))
	if w := e.serve(t, ts); w.Code != 200 {
		t.Fatalf("click answered %d", w.Code)
	}
	if got := e.ephemerals("U0STRANGER"); len(got) != 1 || !strings.Contains(got[0], "only an admin or the agent's owner") {
		t.Fatalf("a stranger was told %q", got)
	}
	if len(e.slack.called("chat.update")) != 0 || promos.p.State != store.ProposalPending {
		t.Fatal("a stranger's click changed something")
	}
	// The owner, known by the e-mail Slack verified for them.
	if w := e.serve(t, signedRequest(testSecret, fixtureTS, clickPromotion(t, actionPromoConfirm, ownerID))); w.Code != 200 {
		t.Fatalf("click answered %d", w.Code)
	}
	last := promos.calls[len(promos.calls)-1]
	if last.Role != config.RoleOperator || last.Name != "Payments@Example.com" || promos.p.State != store.ProposalApplied {
		t.Fatalf("the owner's click: %+v, state %s", last, promos.p.State)
	}
	updates := e.slack.called("chat.update")
	if len(updates) != 1 || len(buttons(t, postedBlocks(t, updates[0]))) != 0 || !strings.Contains(postedBlocks(t, updates[0]), "applied") {
		t.Fatalf("the message after confirming: %+v", updates)
	}
	// A second click is too late.
	e.serve(t, signedRequest(testSecret, fixtureTS, clickPromotion(t, actionPromoRefuse, ownerID)))
	if got := e.ephemerals(ownerID); len(got) != 1 || !strings.Contains(got[0], "already applied") {
		t.Fatalf("a late refusal was told %q", got)
	}
}
