package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const evalAnswer = `{"items":[{"event":{"provider":"github","kind":"deploy","action":"requested","repo":"acme/api","environment":"prod",
"principal":"github:octo-bot[bot]","trigger":{}},"result":{"decision_id":"d1","outcome":"deny","effective":"allow","enforcement":"warn",
"reasons":[{"rule":"prod_needs_trusted","message":"prod needs a trusted agent","enforcement":"warn"}],
"warnings":[{"rule":"weekend","message":"deploying on a weekend","enforcement":"warn"}],
"agent":{"id":"a-1","name":"octo-bot","type":"coding","owner":"team-a","tier":"new"},"policy_revision":"rev1","dry_run":true}}]}`

func TestCostsEvaluateMeCommands(t *testing.T) {
	dir := t.TempDir()
	eventFile := filepath.Join(dir, "event.json")
	eventJSON := `{"provider":"github","kind":"deploy","action":"requested","repo":"acme/api","environment":"prod","principal":"github:octo-bot[bot]"}`
	if err := os.WriteFile(eventFile, []byte(eventJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	typoFile := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typoFile, []byte(`{"provider":"github","knd":"deploy"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sentEvent := `{"event":{"provider":"github","kind":"deploy","action":"requested","repo":"acme/api","environment":"prod",
		"principal":"github:octo-bot[bot]","trigger":{}}}`
	costs := `{"by":"owner","from":"2025-01-01T00:00:00Z","to":"2025-02-01T00:00:00Z",
		"items":[{"key":"team-a","minutes":125.25,"amount":12.5,"currency":"USD","entries":4},{"key":"team-b","minutes":3,"amount":0.3,"currency":"USD","entries":1}]}`
	me := `{"agent":` + agentA + `,"quotas":[{"name":"deploys","concurrency":false,"used":3,"limit":10,"window":3600000000000},
		{"name":"envs","concurrency":true,"used":1,"limit":2}],"kill_switch":` + ksA + `}`
	runCLICases(t, []cliCase{
		{
			name:      "costs by owner",
			args:      []string{"costs", "--by", "owner", "--from", "2025-01-01", "--to", "2025-02-01"},
			routes:    map[string]fakeReply{"GET /api/v1/costs": {body: costs}},
			wantCalls: []call{{line: "GET /api/v1/costs?by=owner&from=2025-01-01T00%3A00%3A00Z&to=2025-02-01T00%3A00%3A00Z"}},
			wantOut: "Costs by owner from 2025-01-01T00:00:00Z to 2025-02-01T00:00:00Z\n\n" +
				"OWNER   MINUTES  AMOUNT  CURRENCY  ENTRIES\n" +
				"team-a  125.2    12.50   USD       4\n" +
				"team-b  3.0      0.30    USD       1\n",
		},
		{
			name: "costs by agent show names",
			args: []string{"costs", "--by", "agent"},
			routes: map[string]fakeReply{"GET /api/v1/costs": {body: `{"by":"agent","from":"2025-01-01T00:00:00Z","to":"2025-02-01T00:00:00Z",` +
				`"items":[{"key":"a-1","minutes":10,"amount":1,"currency":"USD","entries":2}]}`}, "GET /api/v1/agents/a-1": {body: agentA1}},
			wantCalls: []call{{line: "GET /api/v1/costs?by=agent"}, {line: "GET /api/v1/agents/a-1"}},
			wantOut: "Costs by agent from 2025-01-01T00:00:00Z to 2025-02-01T00:00:00Z\n\n" +
				"AGENT     MINUTES  AMOUNT  CURRENCY  ENTRIES\n" +
				"octo-bot  10.0     1.00    USD       2\n",
		},
		{
			name:      "costs as JSON with server defaults",
			args:      []string{"costs", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/costs": {body: costs}},
			wantCalls: []call{{line: "GET /api/v1/costs"}},
			wantJSON:  costs,
		},
		{
			name:    "costs by an unknown group",
			args:    []string{"costs", "--by", "repo"},
			wantErr: `--by "repo": use agent, owner or type`,
		},
		{
			name:      "evaluate prints the decision and its reasons",
			args:      []string{"evaluate", "-f", eventFile},
			routes:    map[string]fakeReply{"POST /api/v1/evaluate": {body: evalAnswer}},
			wantCalls: []call{{line: "POST /api/v1/evaluate", body: sentEvent}},
			wantOut: "Event:            github deploy requested acme/api prod\n" +
				"Principal:        github:octo-bot[bot]\n" +
				"Agent:            octo-bot (a-1, coding, tier new, owner team-a)\n" +
				"Enforcement:      warn\n" +
				"Policy revision:  rev1\n" +
				"\n" +
				"OUTCOME  EFFECTIVE  RULE                MESSAGE\n" +
				"deny     allow      prod_needs_trusted  prod needs a trusted agent\n" +
				"warning  allow      weekend             deploying on a weekend\n",
		},
		{
			name:      "evaluate from stdin as JSON",
			args:      []string{"evaluate", "-f", "-", "-o", "json"},
			stdin:     eventJSON,
			routes:    map[string]fakeReply{"POST /api/v1/evaluate": {body: evalAnswer}},
			wantCalls: []call{{line: "POST /api/v1/evaluate", body: sentEvent}},
			wantJSON:  evalAnswer,
		},
		{
			name:    "evaluate refuses a misspelt field",
			args:    []string{"evaluate", "-f", typoFile},
			wantErr: `unknown field "knd"`,
		},
		{
			name:    "evaluate needs a file",
			args:    []string{"evaluate"},
			wantErr: `required flag(s) "file" not set`,
		},
		{
			name:      "me",
			args:      []string{"me"},
			routes:    map[string]fakeReply{"GET /api/v1/me": {body: me}},
			wantCalls: []call{{line: "GET /api/v1/me"}},
			wantContains: []string{"Name:          octo-bot\n",
				"Kill switch:  ENGAGED (agent a-1) by alice at 2025-01-02T03:04:05Z: runaway loop\n",
				"QUOTA    KIND         USED  LIMIT  WINDOW\n" +
					"deploys  rate         3     10     1h0m0s\n" +
					"envs     concurrency  1     2      -\n"},
		},
		{
			name:         "me without quotas or kill switch",
			args:         []string{"me"},
			routes:       map[string]fakeReply{"GET /api/v1/me": {body: `{"agent":` + agentA + `,"quotas":[]}`}},
			wantCalls:    []call{{line: "GET /api/v1/me"}},
			wantContains: []string{"Kill switch:  none\nQuotas:       none charged yet\n"},
		},
		{
			name:      "me as JSON",
			args:      []string{"me", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/me": {body: me}},
			wantCalls: []call{{line: "GET /api/v1/me"}},
			wantJSON:  me,
		},
	})
}

func TestParseWhenFlag(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		sign    int
		want    time.Time
		wantErr bool
	}{
		{name: "RFC 3339", in: "2025-01-02T03:04:05+02:00", sign: 1, want: time.Date(2025, 1, 2, 1, 4, 5, 0, time.UTC)},
		{name: "date", in: "2025-01-02", sign: 1, want: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)},
		{name: "duration ahead", in: "720h", sign: 1, want: now.Add(720 * time.Hour)},
		{name: "duration ago", in: "24h", sign: -1, want: now.Add(-24 * time.Hour)},
		{name: "negative duration", in: "-1h", sign: 1, wantErr: true},
		{name: "garbage", in: "soon", sign: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseWhenFlag("x", tc.in, now, tc.sign)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error for %q", tc.in)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("parseWhenFlag(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}
