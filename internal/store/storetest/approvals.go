package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/store"
)

func newApproval(id, agentID string, created time.Time) store.Approval {
	return store.Approval{
		ID:          id,
		State:       store.ApprovalPending,
		AgentID:     agentID,
		Owner:       "team-" + agentID,
		Provider:    "github",
		Repo:        "acme/api",
		SHA:         "0123456789abcdef",
		Environment: "production",
		Reason:      "production deploy by a new agent",
		Approvers:   []string{"alice", "bob"},
		Event: event.Event{
			Provider: "github", Kind: event.KindDeploy, Action: "requested", Repo: "acme/api",
			Environment: "production", Principal: "github:bot[bot]",
			Handles: map[string]string{"run_id": "42"},
		},
		DecisionSeq: 7,
		CreatedAt:   created,
		ExpiresAt:   created.Add(time.Hour),
	}
}

func testApprovals(t *testing.T, s suite) {
	t.Run("create, get, conflict, not found", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		a := newApproval("ap1", "a1", baseTime())
		must(t, st.CreateApproval(ctx, a))
		got, err := st.GetApproval(ctx, "ap1")
		must(t, err)
		equal(t, "approval", got, a)
		wantErr(t, st.CreateApproval(ctx, a), store.ErrConflict)
		_, err = st.GetApproval(ctx, "missing")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("list filters newest first", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		for i, agent := range []string{"a1", "a2", "a1", "a1"} {
			must(t, st.CreateApproval(ctx, newApproval(fmt.Sprintf("ap%d", i), agent, baseTime().Add(time.Duration(i)*time.Minute))))
		}
		_, err := st.ResolveApproval(ctx, "ap2", store.ApprovalApproved, "alice", "", baseTime().Add(time.Hour))
		must(t, err)
		tests := []struct {
			name   string
			filter store.ApprovalFilter
			want   []string
		}{
			{name: "all", want: []string{"ap3", "ap2", "ap1", "ap0"}},
			{name: "state", filter: store.ApprovalFilter{State: store.ApprovalPending}, want: []string{"ap3", "ap1", "ap0"}},
			{name: "agent", filter: store.ApprovalFilter{AgentID: "a2"}, want: []string{"ap1"}},
			{name: "owner and state", filter: store.ApprovalFilter{Owner: "team-a1", State: store.ApprovalApproved}, want: []string{"ap2"}},
			{name: "no match", filter: store.ApprovalFilter{Owner: "nobody"}},
			{name: "action", filter: store.ApprovalFilter{Action: &store.ApprovalAction{Provider: "github", Repo: "acme/api", SHA: "0123456789abcdef", Environment: "production"}, AgentID: "a1"},
				want: []string{"ap3", "ap2", "ap0"}},
			{name: "action of another sha", filter: store.ApprovalFilter{Action: &store.ApprovalAction{Provider: "github", Repo: "acme/api", SHA: "fedcba", Environment: "production"}}},
			{name: "action matches the empty environment exactly", filter: store.ApprovalFilter{Action: &store.ApprovalAction{Provider: "github", Repo: "acme/api", SHA: "0123456789abcdef"}}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				list, err := st.ListApprovals(ctx, tc.filter)
				must(t, err)
				var ids []string
				for _, a := range list {
					ids = append(ids, a.ID)
				}
				equal(t, "ids", ids, tc.want)
			})
		}
	})

	t.Run("resolve is compare-and-set", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		must(t, st.CreateApproval(ctx, newApproval("ap1", "a1", baseTime())))
		at := baseTime().Add(time.Minute)
		got, err := st.ResolveApproval(ctx, "ap1", store.ApprovalApproved, "alice", "looks fine", at)
		must(t, err)
		want := newApproval("ap1", "a1", baseTime())
		want.State, want.ResolvedBy, want.ResolvedNote, want.ResolvedAt = store.ApprovalApproved, "alice", "looks fine", &at
		equal(t, "resolved", got, want)
		again, err := st.ResolveApproval(ctx, "ap1", store.ApprovalRejected, "bob", "no", at.Add(time.Minute))
		wantErr(t, err, store.ErrConflict)
		equal(t, "second resolve returns the winner", again, want)
		_, err = st.ResolveApproval(ctx, "missing", store.ApprovalApproved, "alice", "", at)
		wantErr(t, err, store.ErrNotFound)
		for _, state := range []store.ApprovalState{store.ApprovalPending, "maybe"} {
			_, err = st.ResolveApproval(ctx, "ap1", state, "alice", "", at)
			wantKind(t, err, apperr.KindInvalid)
		}
	})

	t.Run("use is compare-and-set on approved approvals", func(t *testing.T) {
		st := s.open(t)
		ctx := t.Context()
		must(t, st.CreateApproval(ctx, newApproval("pending", "a1", baseTime())))
		must(t, st.CreateApproval(ctx, newApproval("approved", "a1", baseTime())))
		at := baseTime().Add(time.Minute)
		_, err := st.ResolveApproval(ctx, "approved", store.ApprovalApproved, "alice", "", at)
		must(t, err)
		_, err = st.UseApproval(ctx, "pending", "decision-1", at)
		wantErr(t, err, store.ErrConflict)
		used := at.Add(time.Minute)
		got, err := st.UseApproval(ctx, "approved", "decision-2", used)
		must(t, err)
		if got.UsedAt == nil || !got.UsedAt.Equal(used) || got.UsedBy != "decision-2" || got.State != store.ApprovalApproved {
			t.Fatalf("used approval %+v", got)
		}
		again, err := st.UseApproval(ctx, "approved", "decision-3", used.Add(time.Minute))
		wantErr(t, err, store.ErrConflict)
		equal(t, "second use returns the first", again, got)
		_, err = st.UseApproval(ctx, "missing", "decision-4", used)
		wantErr(t, err, store.ErrNotFound)
		reread, err := st.GetApproval(ctx, "approved")
		must(t, err)
		equal(t, "stored", reread, got)
	})

	t.Run("concurrent resolves: exactly one wins", func(t *testing.T) {
		st := s.open(t)
		must(t, st.CreateApproval(t.Context(), newApproval("ap1", "a1", baseTime())))
		const clickers = 20
		var mu sync.Mutex
		var winners []string
		var losers []store.Approval
		concurrently(clickers, func(i int) {
			state := store.ApprovalApproved
			if i%2 == 1 {
				state = store.ApprovalRejected
			}
			by := fmt.Sprintf("user-%d", i)
			a, err := st.ResolveApproval(t.Context(), "ap1", state, by, "", baseTime().Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, by)
			case apperr.KindOf(err) == apperr.KindConflict:
				losers = append(losers, a)
			default:
				t.Errorf("resolve: %v", err)
			}
		})
		if len(winners) != 1 || len(losers) != clickers-1 {
			t.Fatalf("%d winners, %d conflicts; want 1 and %d", len(winners), len(losers), clickers-1)
		}
		for _, a := range losers {
			if a.ResolvedBy != winners[0] || a.State == store.ApprovalPending {
				t.Fatalf("a loser saw %+v, want resolved by %s", a, winners[0])
			}
		}
	})
}

func testApprovalMessages(t *testing.T, s suite) {
	st := s.open(t)
	ctx := t.Context()
	_, _, err := st.ApprovalMessage(ctx, "ap-1")
	wantErr(t, err, store.ErrNotFound)
	must(t, st.SetApprovalMessage(ctx, "ap-1", "C123", "1700000000.000100"))
	ch, id, err := st.ApprovalMessage(ctx, "ap-1")
	must(t, err)
	if ch != "C123" || id != "1700000000.000100" {
		t.Fatalf("got %s %s", ch, id)
	}
	must(t, st.SetApprovalMessage(ctx, "ap-1", "C999", "1700000000.000200"))
	if ch, id, _ = st.ApprovalMessage(ctx, "ap-1"); ch != "C999" || id != "1700000000.000200" {
		t.Fatalf("after replace: %s %s", ch, id)
	}
	wantKind(t, st.SetApprovalMessage(ctx, "", "C1", "1"), apperr.KindInvalid)
}
