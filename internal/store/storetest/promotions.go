package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
)

func newProposal(id, agentID string, created time.Duration) store.Proposal {
	return store.Proposal{ID: id, AgentID: agentID, AgentName: "bot-" + agentID, Owner: "team@example.com",
		FromTier: agents.TierNew, ToTier: agents.TierEstablished, State: store.ProposalPending,
		Evidence: json.RawMessage(`{"record":{"decisions":80,"denied":2}}`), PolicyRevision: "sha256:abc", CreatedAt: baseTime().Add(created)}
}

func testPromotions(t *testing.T, s suite) {
	ps := s.open(t)
	ctx := t.Context()
	p1 := newProposal("p1", "a1", 0)
	got, created, err := ps.CreateProposal(ctx, p1)
	must(t, err)
	if !created {
		t.Fatal("first proposal not created")
	}
	equal(t, "created proposal", got, p1)
	t.Run("round trip", func(t *testing.T) {
		got, err := ps.GetProposal(ctx, "p1")
		must(t, err)
		equal(t, "proposal", got, p1)
	})
	t.Run("one pending proposal per agent", func(t *testing.T) {
		got, created, err := ps.CreateProposal(ctx, newProposal("p1-again", "a1", time.Minute))
		must(t, err)
		if created || got.ID != "p1" {
			t.Fatalf("second pending proposal: created %v, got %s", created, got.ID)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, bad := range []store.Proposal{
			{ID: "x", State: store.ProposalPending},
			{AgentID: "a9", State: store.ProposalPending},
			func() store.Proposal { p := newProposal("applied", "a9", 0); p.State = store.ProposalApplied; return p }(),
		} {
			if _, _, err := ps.CreateProposal(ctx, bad); err == nil {
				t.Errorf("proposal %+v stored", bad)
			}
		}
		if _, _, err := ps.CreateProposal(ctx, newProposal("p1", "a2", 0)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("a second proposal with id p1: %v, want ErrConflict", err)
		}
		if _, err := ps.GetProposal(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get unknown: %v", err)
		}
	})
	t.Run("resolve once", func(t *testing.T) {
		at := baseTime().Add(time.Hour)
		got, err := ps.ResolveProposal(ctx, "p1", store.ProposalApplied, "admin", "earned it", at)
		must(t, err)
		if got.State != store.ProposalApplied || got.ResolvedBy != "admin" || got.Note != "earned it" || got.ResolvedAt == nil || !got.ResolvedAt.Equal(at) {
			t.Fatalf("resolved = %+v", got)
		}
		again, err := ps.ResolveProposal(ctx, "p1", store.ProposalRefused, "owner", "no", at)
		if !errors.Is(err, store.ErrConflict) || again.State != store.ProposalApplied || again.ResolvedBy != "admin" {
			t.Fatalf("second resolution = %+v, %v; want ErrConflict with the applied proposal", again, err)
		}
		if _, err := ps.ResolveProposal(ctx, "nope", store.ProposalRefused, "owner", "", at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("resolve unknown: %v", err)
		}
		if _, err := ps.ResolveProposal(ctx, "p1", store.ProposalPending, "owner", "", at); err == nil {
			t.Fatal("resolved to pending")
		}
		// The agent may be proposed again.
		_, created, err := ps.CreateProposal(ctx, newProposal("p1-next", "a1", 2*time.Hour))
		must(t, err)
		if !created {
			t.Fatal("a new proposal after the last was resolved was not created")
		}
	})
	must(t, func() error { _, _, err := ps.CreateProposal(ctx, newProposal("p2", "a2", 3*time.Hour)); return err }())
	tests := []struct {
		name string
		f    store.ProposalFilter
		want []string
	}{
		{name: "all, newest first", want: []string{"p2", "p1-next", "p1"}},
		{name: "pending", f: store.ProposalFilter{State: store.ProposalPending}, want: []string{"p2", "p1-next"}},
		{name: "one agent's", f: store.ProposalFilter{AgentID: "a1"}, want: []string{"p1-next", "p1"}},
		{name: "limit", f: store.ProposalFilter{Limit: 1}, want: []string{"p2"}},
		{name: "none", f: store.ProposalFilter{State: store.ProposalWithdrawn}, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ps.ListProposals(ctx, tc.f)
			must(t, err)
			equal(t, "proposals", ids(got, func(p store.Proposal) string { return p.ID }), tc.want)
		})
	}
	t.Run("concurrent", func(t *testing.T) {
		oneWinner(t, 10, "proposals created", func(i int) (string, bool, error) {
			p, ok, err := ps.CreateProposal(ctx, newProposal(fmt.Sprintf("race-%d", i), "a-race", 0))
			return p.ID, ok, err
		})
	})
}
