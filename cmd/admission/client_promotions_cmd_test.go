package main

import "testing"

const recordBody = `{"agent":{"id":"a-1","name":"pay-coder","type":"coding","owner":"payments@example.com","tier":"new","state":"active"},
"mode":"confirm","record":{"days":30,"decisions":80,"allowed":78,"denied":2,"held":0,"kills":0,"rollbacks":0,
"days_since_kill":-1,"days_since_rollback":41,"days_since_tier_change":-1,"age_days":64},
"assessment":{"eligible":true,"to":"established","reasons":["meets every threshold for established"],"criteria":[
{"name":"clean_days","want":14,"got":41,"met":true,"message":"no kill switch, rollback or tier change for 14 days (the last 41 days ago)"},
{"name":"min_decisions","want":50,"got":80,"met":true,"message":"at least 50 decisions in 30 days (has 80)"}],"policy_revision":"sha256:1"},
"pending":{"id":"p-1","agent_id":"a-1","agent_name":"pay-coder","owner":"payments@example.com","from_tier":"new","to_tier":"established",
"state":"pending","evidence":{},"policy_revision":"sha256:1","created_at":"2026-12-04T11:00:00Z"}}`

const proposalApplied = `{"id":"p-1","agent_id":"a-1","agent_name":"pay-coder","owner":"payments@example.com","from_tier":"new",
"to_tier":"established","state":"applied","evidence":{},"policy_revision":"sha256:1","created_at":"2026-12-04T11:00:00Z",
"resolved_by":"payments@example.com","note":"earned"}`

func TestPromotionCommands(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name:      "an agent's record",
			args:      []string{"agents", "record", "pay-coder"},
			routes:    map[string]fakeReply{"GET /api/v1/agents/pay-coder/record": {body: recordBody}},
			wantCalls: []call{{line: "GET /api/v1/agents/pay-coder/record"}},
			wantContains: []string{
				"Decisions", "80 (78 allowed, 2 denied, 0 held)", "0 in the window, last 41 days ago", "eligible for established",
				"min_decisions:     met: at least 50 decisions in 30 days (has 80)", "p-1 (new to established, 2026-12-04T11:00:00Z)",
			},
		},
		{
			name:         "an agent's record as JSON",
			args:         []string{"agents", "record", "pay-coder", "-o", "json"},
			routes:       map[string]fakeReply{"GET /api/v1/agents/pay-coder/record": {body: recordBody}},
			wantCalls:    []call{{line: "GET /api/v1/agents/pay-coder/record"}},
			wantContains: []string{`"eligible": true`, `"days_since_rollback": 41`, `"to_tier": "established"`},
		},
		{
			name:         "pending proposals of one agent",
			args:         []string{"promotions", "list", "--state", "pending", "--agent", "pay-coder"},
			routes:       map[string]fakeReply{"GET /api/v1/promotions": {body: `{"items":[` + proposalApplied + `]}`}},
			wantCalls:    []call{{line: "GET /api/v1/promotions?agent=pay-coder&state=pending"}},
			wantContains: []string{"ID   STATE    AGENT      OWNER                 TIER                PROPOSED              DECIDED", "p-1  applied  pay-coder  payments@example.com  new -> established  2026-12-04T11:00:00Z  payments@example.com earned"},
		},
		{
			name:      "confirm with a note",
			args:      []string{"promotions", "confirm", "p-1", "--note", "earned"},
			routes:    map[string]fakeReply{"POST /api/v1/promotions/p-1/confirm": {body: proposalApplied}},
			wantCalls: []call{{line: "POST /api/v1/promotions/p-1/confirm", body: `{"note":"earned"}`}},
			wantOut:   "promotion p-1 of pay-coder (new to established) applied by payments@example.com\n",
		},
		{
			name:      "refuse with a reason",
			args:      []string{"promotions", "refuse", "p-1", "--reason", "not yet"},
			routes:    map[string]fakeReply{"POST /api/v1/promotions/p-1/refuse": {status: 403, body: `{"error":{"code":"forbidden","message":"only an admin or the agent's owner"}}`}},
			wantCalls: []call{{line: "POST /api/v1/promotions/p-1/refuse", body: `{"reason":"not yet"}`}},
			wantErr:   "only an admin or the agent's owner",
		},
	})
}
