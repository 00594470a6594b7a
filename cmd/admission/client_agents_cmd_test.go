package main

import (
	"testing"
)

const (
	agentA = `{"id":"a-1","name":"octo-bot","type":"coding","owner":"team-a","capabilities":["build"],"tier":"new",
"state":"active","environments":["staging","prod"],"namespaces":[],"principals":["github:octo-bot[bot]"],
"labels":{"team":"a"},"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z","version":2}`
	agentB = `{"id":"a-2","name":"deploy-bot","type":"deployment","owner":"team-b","capabilities":[],"tier":"trusted",
"state":"suspended","environments":[],"namespaces":[],"principals":[],"created_at":"2025-01-02T03:04:05Z",
"updated_at":"2025-01-02T03:04:05Z","version":5}`
	ksA = `{"id":"ks-1","scope":"agent","target":"a-1","reason":"runaway loop","source":"manual","engaged_by":"alice",
"engaged_at":"2025-01-02T03:04:05Z"}`
)

func TestAgentsCommands(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name:   "list as a table",
			args:   []string{"agents", "list", "--owner", "team-a", "--tier", "new"},
			routes: map[string]fakeReply{"GET /api/v1/agents": {body: `{"items":[` + agentA + `,` + agentB + `]}`}},
			wantOut: "NAME        ID   TYPE        OWNER   TIER     STATE      ENVIRONMENTS\n" +
				"octo-bot    a-1  coding      team-a  new      active     staging,prod\n" +
				"deploy-bot  a-2  deployment  team-b  trusted  suspended  -\n",
			wantCalls: []call{{line: "GET /api/v1/agents?owner=team-a&tier=new"}},
		},
		{
			name:      "list as JSON",
			args:      []string{"agents", "list", "-o", "json", "--state", "active", "--type", "coding"},
			routes:    map[string]fakeReply{"GET /api/v1/agents": {body: `{"items":[` + agentA + `]}`}},
			wantJSON:  `{"items":[` + agentA + `]}`,
			wantCalls: []call{{line: "GET /api/v1/agents?state=active&type=coding"}},
		},
		{
			name:   "get by name",
			args:   []string{"agents", "get", "octo-bot"},
			routes: map[string]fakeReply{"GET /api/v1/agents/octo-bot": {body: agentA}},
			wantContains: []string{"Name:          octo-bot\n", "Environments:  staging,prod\n", "Namespaces:    -\n",
				"Labels:        team=a\n", "Principals:    github:octo-bot[bot]\n", "Version:       2\n"},
			wantCalls: []call{{line: "GET /api/v1/agents/octo-bot"}},
		},
		{
			name:     "get as JSON",
			args:     []string{"agents", "get", "a-1", "-o", "json"},
			routes:   map[string]fakeReply{"GET /api/v1/agents/a-1": {body: agentA}},
			wantJSON: agentA, wantCalls: []call{{line: "GET /api/v1/agents/a-1"}},
		},
		{
			name: "create prints the one-time token",
			args: []string{"agents", "create", "--name", "octo-bot", "--type", "coding", "--owner", "team-a", "--tier", "established",
				"--capability", "build", "--capability", "deploy", "--env", "staging,prod", "--namespace", "ci",
				"--principal", "github:octo-bot[bot]", "--label", "team=a", "--expires", "2026-01-01T00:00:00Z"},
			routes: map[string]fakeReply{"POST /api/v1/agents": {status: 201, body: `{"agent":` + agentA + `,"token":"agt_once"}`}},
			wantCalls: []call{{line: "POST /api/v1/agents", body: `{"name":"octo-bot","type":"coding","owner":"team-a",
				"capabilities":["build","deploy"],"tier":"established","environments":["staging","prod"],"namespaces":["ci"],
				"principals":["github:octo-bot[bot]"],"labels":{"team":"a"},"expires_at":"2026-01-01T00:00:00Z"}`}},
			wantContains: []string{"Name:          octo-bot\n", "\nToken: agt_once\nThis token is shown only once"},
		},
		{
			name:       "create as JSON keeps the note off stdout",
			args:       []string{"agents", "create", "-o", "json", "--name", "octo-bot", "--type", "coding", "--owner", "team-a"},
			routes:     map[string]fakeReply{"POST /api/v1/agents": {status: 201, body: `{"agent":` + agentA + `,"token":"agt_once"}`}},
			wantJSON:   `{"agent":` + agentA + `,"token":"agt_once"}`,
			wantStderr: []string{"shown only once"},
			wantCalls: []call{{line: "POST /api/v1/agents", body: `{"name":"octo-bot","type":"coding","owner":"team-a",
				"capabilities":null,"tier":"","environments":null,"namespaces":null,"principals":null,"labels":null,"expires_at":null}`}},
		},
		{
			name:    "create needs a name",
			args:    []string{"agents", "create", "--type", "coding", "--owner", "team-a"},
			wantErr: `required flag(s) "name" not set`,
		},
		{
			name:    "create refuses a bad expiry",
			args:    []string{"agents", "create", "--name", "x", "--type", "coding", "--owner", "o", "--expires", "next week"},
			wantErr: `--expires "next week"`,
		},
		{
			name:         "update sends only the flags given",
			args:         []string{"agents", "update", "octo-bot", "--owner", "team-b", "--env", "", "--clear-expiry", "--if-version", "2"},
			routes:       map[string]fakeReply{"PATCH /api/v1/agents/octo-bot": {body: agentA}},
			wantCalls:    []call{{line: "PATCH /api/v1/agents/octo-bot", body: `{"owner":"team-b","environments":[],"clear_expiry":true,"version":2}`}},
			wantContains: []string{"Name:          octo-bot\n"},
		},
		{
			name:      "update lists and expiry",
			args:      []string{"agents", "update", "a-1", "--capability", "build,test", "--principal", "github:x", "--expires", "2026-02-03", "-o", "json"},
			routes:    map[string]fakeReply{"PATCH /api/v1/agents/a-1": {body: agentA}},
			wantCalls: []call{{line: "PATCH /api/v1/agents/a-1", body: `{"capabilities":["build","test"],"principals":["github:x"],"expires_at":"2026-02-03T00:00:00Z"}`}},
			wantJSON:  agentA,
		},
		{
			name:    "update with nothing to change",
			args:    []string{"agents", "update", "a-1"},
			wantErr: "nothing to update",
		},
		{
			name:    "update with expires and clear-expiry",
			args:    []string{"agents", "update", "a-1", "--expires", "24h", "--clear-expiry"},
			wantErr: "none of the others can be",
		},
		{
			name:   "promote to a tier",
			args:   []string{"agents", "promote", "a-1", "--reason", "30 clean days", "--to", "trusted"},
			routes: map[string]fakeReply{"POST /api/v1/agents/a-1/promote": {body: agentA}},
			wantOut: "NAME      ID   TYPE    OWNER   TIER  STATE   ENVIRONMENTS\n" +
				"octo-bot  a-1  coding  team-a  new   active  staging,prod\n",
			wantCalls: []call{{line: "POST /api/v1/agents/a-1/promote", body: `{"reason":"30 clean days","to":"trusted"}`}},
		},
		{
			name:      "demote one step",
			args:      []string{"agents", "demote", "a-1", "--reason", "incident 42", "-o", "json"},
			routes:    map[string]fakeReply{"POST /api/v1/agents/a-1/demote": {body: agentA}},
			wantJSON:  agentA,
			wantCalls: []call{{line: "POST /api/v1/agents/a-1/demote", body: `{"reason":"incident 42"}`}},
		},
		{
			name:    "promote needs a reason",
			args:    []string{"agents", "promote", "a-1"},
			wantErr: `required flag(s) "reason" not set`,
		},
		{
			name:    "demote to an unknown tier",
			args:    []string{"agents", "demote", "a-1", "--reason", "r", "--to", "gold"},
			wantErr: `--to "gold": use one of new, established, trusted`,
		},
		{
			name:         "suspend with a reason",
			args:         []string{"agents", "suspend", "octo-bot", "--reason", "maintenance"},
			routes:       map[string]fakeReply{"POST /api/v1/agents/octo-bot/suspend": {body: agentB}},
			wantCalls:    []call{{line: "POST /api/v1/agents/octo-bot/suspend", body: `{"reason":"maintenance"}`}},
			wantContains: []string{"deploy-bot  a-2  deployment  team-b  trusted  suspended  -\n"},
		},
		{
			name:         "resume without a reason",
			args:         []string{"agents", "resume", "a-2"},
			routes:       map[string]fakeReply{"POST /api/v1/agents/a-2/resume": {body: agentA}},
			wantCalls:    []call{{line: "POST /api/v1/agents/a-2/resume", body: `{}`}},
			wantContains: []string{"octo-bot"},
		},
		{
			name:      "decommission",
			args:      []string{"agents", "decommission", "a-2", "--reason", "retired", "-o", "json"},
			routes:    map[string]fakeReply{"POST /api/v1/agents/a-2/decommission": {body: agentB}},
			wantCalls: []call{{line: "POST /api/v1/agents/a-2/decommission", body: `{"reason":"retired"}`}},
			wantJSON:  agentB,
		},
		{
			name:      "kill prints the kill switch",
			args:      []string{"agents", "kill", "octo-bot", "--reason", "runaway loop"},
			routes:    map[string]fakeReply{"POST /api/v1/agents/octo-bot/kill": {body: ksA}, "GET /api/v1/agents/a-1": {body: agentA1}},
			wantCalls: []call{{line: "POST /api/v1/agents/octo-bot/kill", body: `{"reason":"runaway loop"}`}, {line: "GET /api/v1/agents/a-1"}},
			wantOut: "ID    SCOPE  TARGET    STATE    SOURCE  ENGAGED_BY  ENGAGED_AT            REASON\n" +
				"ks-1  agent  octo-bot  engaged  manual  alice       2025-01-02T03:04:05Z  runaway loop\n",
		},
		{
			name:    "kill requires a reason",
			args:    []string{"agents", "kill", "octo-bot"},
			wantErr: `required flag(s) "reason" not set`,
		},
		{
			name:         "rotate prints the new token",
			args:         []string{"agents", "rotate", "a-1"},
			routes:       map[string]fakeReply{"POST /api/v1/agents/a-1/rotate": {body: `{"token":"agt_new","old_valid_until":"2025-01-02T04:04:05Z"}`}},
			wantCalls:    []call{{line: "POST /api/v1/agents/a-1/rotate"}},
			wantContains: []string{"Token:                  agt_new\n", "Old token valid until:  2025-01-02T04:04:05Z\n", "shown only once"},
		},
		{
			name:      "rotate as JSON",
			args:      []string{"agents", "rotate", "a-1", "-o", "json"},
			routes:    map[string]fakeReply{"POST /api/v1/agents/a-1/rotate": {body: `{"token":"agt_new","old_valid_until":"2025-01-02T04:04:05Z"}`}},
			wantCalls: []call{{line: "POST /api/v1/agents/a-1/rotate"}},
			wantJSON:  `{"token":"agt_new","old_valid_until":"2025-01-02T04:04:05Z"}`, wantStderr: []string{"shown only once"},
		},
		{
			name:    "get needs an id",
			args:    []string{"agents", "get"},
			wantErr: "accepts 1 arg(s), received 0",
		},
	})
}
