package storetest

import (
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

func testCosts(t *testing.T, s suite) {
	st := s.open(t)
	ctx := t.Context()
	base := baseTime()
	entries := []store.CostEntry{
		{ID: "c1", AgentID: "a1", AgentType: "coding", Owner: "alice", Minutes: 10, Amount: 1.5, Currency: "USD", At: base},
		{ID: "c2", AgentID: "a1", AgentType: "coding", Owner: "alice", Minutes: 5, Amount: 0.5, Currency: "USD", At: base.Add(time.Minute)},
		{ID: "c3", AgentID: "a2", AgentType: "testing", Owner: "alice", Minutes: 30, Amount: 4, Currency: "USD", At: base.Add(2 * time.Minute)},
		{ID: "c4", AgentID: "a3", AgentType: "coding", Owner: "bob", Minutes: 1, Amount: 2, Currency: "USD", At: base.Add(3 * time.Minute)},
		{ID: "c5", AgentID: "a3", AgentType: "coding", Owner: "bob", Minutes: 2, Amount: 3, Currency: "EUR", At: base.Add(4 * time.Minute)},
		{AgentID: "a4", AgentType: "deployment", Owner: "carol", Minutes: 1, Amount: 2, Currency: "USD", At: base.Add(5 * time.Minute)},
		{AgentID: "a4", AgentType: "deployment", Owner: "carol", Minutes: 1, Amount: 2, Currency: "USD", At: base.Add(6 * time.Minute)},
	}
	for _, e := range entries {
		must(t, st.AddCost(ctx, e))
	}
	t.Run("duplicate id conflicts", func(t *testing.T) {
		wantErr(t, st.AddCost(ctx, entries[0]), store.ErrConflict)
	})
	t.Run("invalid grouping", func(t *testing.T) {
		_, err := st.SumCosts(ctx, "repo", base, base.Add(time.Hour))
		wantKind(t, err, apperr.KindInvalid)
	})
	end := base.Add(time.Hour)
	tests := []struct {
		name     string
		by       store.CostGroup
		from, to time.Time
		want     []store.CostRow
	}{
		{name: "by agent", by: store.CostByAgent, from: base, to: end, want: []store.CostRow{
			{Key: "a2", Minutes: 30, Amount: 4, Currency: "USD", Entries: 1},
			{Key: "a4", Minutes: 2, Amount: 4, Currency: "USD", Entries: 2},
			{Key: "a3", Minutes: 2, Amount: 3, Currency: "EUR", Entries: 1},
			{Key: "a1", Minutes: 15, Amount: 2, Currency: "USD", Entries: 2},
			{Key: "a3", Minutes: 1, Amount: 2, Currency: "USD", Entries: 1},
		}},
		{name: "by owner", by: store.CostByOwner, from: base, to: end, want: []store.CostRow{
			{Key: "alice", Minutes: 45, Amount: 6, Currency: "USD", Entries: 3},
			{Key: "carol", Minutes: 2, Amount: 4, Currency: "USD", Entries: 2},
			{Key: "bob", Minutes: 2, Amount: 3, Currency: "EUR", Entries: 1},
			{Key: "bob", Minutes: 1, Amount: 2, Currency: "USD", Entries: 1},
		}},
		{name: "by type", by: store.CostByType, from: base, to: end, want: []store.CostRow{
			{Key: "coding", Minutes: 16, Amount: 4, Currency: "USD", Entries: 3},
			{Key: "deployment", Minutes: 2, Amount: 4, Currency: "USD", Entries: 2},
			{Key: "testing", Minutes: 30, Amount: 4, Currency: "USD", Entries: 1},
			{Key: "coding", Minutes: 2, Amount: 3, Currency: "EUR", Entries: 1},
		}},
		{name: "from inclusive, to exclusive", by: store.CostByAgent, from: base.Add(time.Minute), to: base.Add(3 * time.Minute), want: []store.CostRow{
			{Key: "a2", Minutes: 30, Amount: 4, Currency: "USD", Entries: 1},
			{Key: "a1", Minutes: 5, Amount: 0.5, Currency: "USD", Entries: 1},
		}},
		{name: "empty range", by: store.CostByOwner, from: end, to: end.Add(time.Hour), want: []store.CostRow{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := st.SumCosts(ctx, tc.by, tc.from, tc.to)
			must(t, err)
			equal(t, "rows", rows, tc.want)
		})
	}
}
