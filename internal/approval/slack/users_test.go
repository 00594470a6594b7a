package slack

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
)

func TestGroupMembership(t *testing.T) {
	tests := []struct {
		name       string
		approvers  []string
		user       string
		groups     map[string][]string
		handles    map[string]string
		wantGroups []string
		approved   bool
		wantEph    string
	}{
		{
			name: "member of a group named by handle", approvers: []string{"@sre-oncall", "role:admin"}, user: "U0ONCALL",
			groups: map[string][]string{"S0SRE": {"U0ONCALL", "U0OTHER"}}, handles: map[string]string{"sre-oncall": "S0SRE"},
			wantGroups: []string{"@sre-oncall"}, approved: true,
		},
		{
			name: "member of a group named by id", approvers: []string{"subteam:S0DBA"}, user: "U0DBA",
			groups:     map[string][]string{"S0DBA": {"U0DBA"}},
			wantGroups: []string{"subteam:S0DBA"}, approved: true,
		},
		{
			name: "member of a group written as a mention", approvers: []string{"<!subteam^S0DBA|@dba>"}, user: "U0DBA",
			groups:     map[string][]string{"S0DBA": {"U0DBA"}},
			wantGroups: []string{"<!subteam^S0DBA|@dba>"}, approved: true,
		},
		{
			name: "not a member", approvers: []string{"@sre-oncall"}, user: "U0STRANGER",
			groups: map[string][]string{"S0SRE": {"U0ONCALL"}}, handles: map[string]string{"sre-oncall": "S0SRE"},
			wantEph: "not an approver",
		},
		{
			name: "role entries admit no Slack user", approvers: []string{"role:viewer"}, user: "U0ONCALL",
			wantEph: "not an approver",
		},
		{
			name: "a group that cannot be read, user not named otherwise", approvers: []string{"subteam:S0GONE"}, user: "U0ONCALL",
			wantEph: "could not look you up",
		},
		{
			name: "a group that cannot be read, user named directly", approvers: []string{"subteam:S0GONE", "U0ONCALL"}, user: "U0ONCALL",
			approved: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := testApproval()
			a.Approvers = tc.approvers
			e := newEnv(t, nil, a)
			for k, v := range tc.groups {
				e.slack.groups[k] = v
			}
			for k, v := range tc.handles {
				e.slack.handles[k] = v
			}
			e.serve(t, signedRequest(testSecret, fixtureTS, payload(t, "block_actions_approve", asUser(tc.user))))
			calls := e.res.recorded()
			if tc.wantEph != "" {
				msgs := e.ephemerals(tc.user)
				if len(msgs) != 1 || !strings.Contains(msgs[0], tc.wantEph) {
					t.Fatalf("ephemeral messages = %q, want one containing %q", msgs, tc.wantEph)
				}
				return
			}
			if len(calls) != 1 || !slices.Equal(calls[0].Who.Groups, tc.wantGroups) {
				t.Fatalf("Resolve calls = %+v, want groups %v", calls, tc.wantGroups)
			}
			if got, _ := e.res.Get(context.Background(), approvalID); (got.State == store.ApprovalApproved) != tc.approved {
				t.Errorf("state = %s, want approved %v", got.State, tc.approved)
			}
		})
	}
}

func TestGroupMembersCached(t *testing.T) {
	e := newEnv(t, nil)
	e.slack.handles["sre-oncall"] = "S0SRE"
	e.slack.groups["S0SRE"] = []string{"U0ONCALL"}
	ctx := context.Background()
	ask := func() {
		c, err := e.n.users.clicker(ctx, slackUser("U0ONCALL"), []string{"@sre-oncall"})
		if err != nil || len(c.Groups) != 1 {
			t.Fatalf("clicker = %+v, %v", c, err)
		}
	}
	ask()
	e.clock.Advance(30 * time.Second)
	ask()
	if n := len(e.slack.called("usergroups.users.list")); n != 1 {
		t.Fatalf("usergroups.users.list calls within a minute = %d, want 1", n)
	}
	if n := len(e.slack.called("usergroups.list")); n != 1 {
		t.Fatalf("usergroups.list calls within a minute = %d, want 1", n)
	}
	e.clock.Advance(61 * time.Second)
	ask()
	if n := len(e.slack.called("usergroups.users.list")); n != 2 {
		t.Fatalf("usergroups.users.list calls after a minute = %d, want 2", n)
	}
}
