package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const approvalA = `{"id":"ap-1","state":"pending","agent_id":"a-1","owner":"team-a","provider":"github","repo":"acme/api",
"sha":"abc123","environment":"prod","reason":"prod deploy needs a human","approvers":["alice","bob"],
"event":{"provider":"github","kind":"deploy","action":"requested","principal":"github:octo-bot[bot]","trigger":{}},
"decision_seq":7,"created_at":"2025-01-02T03:04:05Z","expires_at":"2025-01-03T03:04:05Z"}`

func TestKillSwitchAndApprovalCommands(t *testing.T) {
	runCLICases(t, []cliCase{
		{
			name: "list all kill switches",
			args: []string{"killswitch", "list", "--all"},
			routes: map[string]fakeReply{"GET /api/v1/killswitches": {body: `{"items":[` + ksA + `,` + ksA + `,{"id":"ks-0","scope":"global","reason":"freeze","source":"anomaly","engaged_by":"gate","engaged_at":"2025-01-01T00:00:00Z","released_by":"bob","released_at":"2025-01-01T01:00:00Z"}]}`},
				"GET /api/v1/agents/a-1": {body: agentA1}},
			// One lookup per agent, however many rows name it.
			wantCalls: []call{{line: "GET /api/v1/killswitches?all=true"}, {line: "GET /api/v1/agents/a-1"}},
			wantOut: "ID    SCOPE   TARGET    STATE                                    SOURCE   ENGAGED_BY  ENGAGED_AT            REASON\n" +
				"ks-1  agent   octo-bot  engaged                                  manual   alice       2025-01-02T03:04:05Z  runaway loop\n" +
				"ks-1  agent   octo-bot  engaged                                  manual   alice       2025-01-02T03:04:05Z  runaway loop\n" +
				"ks-0  global  -         released by bob at 2025-01-01T01:00:00Z  anomaly  gate        2025-01-01T00:00:00Z  freeze\n",
		},
		{
			name:      "list engaged as JSON",
			args:      []string{"killswitch", "list", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/killswitches": {body: `{"items":[]}`}},
			wantCalls: []call{{line: "GET /api/v1/killswitches"}},
			wantJSON:  `{"items":[]}`,
		},
		{
			name:         "engage for an owner",
			args:         []string{"killswitch", "engage", "--scope", "owner", "--target", "team-a", "--reason", "runaway loop"},
			routes:       map[string]fakeReply{"POST /api/v1/killswitches": {status: 201, body: ksOwner}},
			wantCalls:    []call{{line: "POST /api/v1/killswitches", body: `{"scope":"owner","target":"team-a","reason":"runaway loop"}`}},
			wantContains: []string{"ks-2  owner  team-a"},
		},
		{
			name:      "engage globally",
			args:      []string{"killswitch", "engage", "--scope", "global", "--reason", "incident", "-o", "json"},
			routes:    map[string]fakeReply{"POST /api/v1/killswitches": {status: 201, body: ksA}},
			wantCalls: []call{{line: "POST /api/v1/killswitches", body: `{"scope":"global","target":"","reason":"incident"}`}},
			wantJSON:  ksA,
		},
		{
			name:    "engage with an unknown scope",
			args:    []string{"killswitch", "engage", "--scope", "team", "--target", "x", "--reason", "r"},
			wantErr: `--scope "team": use agent, owner or global`,
		},
		{
			name:    "engage an agent needs a target",
			args:    []string{"killswitch", "engage", "--scope", "agent", "--reason", "r"},
			wantErr: "--target is required for scope agent",
		},
		{
			name:         "release with a reason",
			args:         []string{"killswitch", "release", "ks-1", "--reason", "fixed"},
			routes:       map[string]fakeReply{"DELETE /api/v1/killswitches/ks-1": {body: ksA}, "GET /api/v1/agents/a-1": {body: agentA1}},
			wantCalls:    []call{{line: "DELETE /api/v1/killswitches/ks-1", body: `{"reason":"fixed"}`}, {line: "GET /api/v1/agents/a-1"}},
			wantContains: []string{"ks-1  agent  octo-bot"},
		},
		{
			name: "release without a reason sends no body",
			args: []string{"ks", "release", "ks-1"},
			routes: map[string]fakeReply{"DELETE /api/v1/killswitches/ks-1": {body: ksA},
				// An agent that cannot be looked up is shown by id.
				"GET /api/v1/agents/a-1": {status: 404, body: `{"error":{"code":"not_found","message":"agent \"a-1\" not found"}}`}},
			wantCalls:    []call{{line: "DELETE /api/v1/killswitches/ks-1"}, {line: "GET /api/v1/agents/a-1"}},
			wantContains: []string{"ks-1  agent  a-1"},
		},
		{
			name:      "pending approvals",
			args:      []string{"approvals", "list", "--state", "pending"},
			routes:    map[string]fakeReply{"GET /api/v1/approvals": {body: `{"items":[` + approvalA + `]}`}, "GET /api/v1/agents/a-1": {body: agentA1}},
			wantCalls: []call{{line: "GET /api/v1/approvals?state=pending"}, {line: "GET /api/v1/agents/a-1"}},
			wantOut: "ID    STATE    AGENT     OWNER   REPO      ENVIRONMENT  EXPIRES               REASON\n" +
				"ap-1  pending  octo-bot  team-a  acme/api  prod         2025-01-03T03:04:05Z  prod deploy needs a human\n",
		},
		{
			name: "approvals of an agent by name",
			args: []string{"approvals", "list", "--agent", "octo-bot", "-o", "json"},
			routes: map[string]fakeReply{"GET /api/v1/agents/octo-bot": {body: agentA1},
				"GET /api/v1/approvals": {body: `{"items":[` + approvalA + `]}`}},
			wantCalls: []call{{line: "GET /api/v1/agents/octo-bot"}, {line: "GET /api/v1/approvals?agent=a-1"}},
			wantJSON:  `{"items":[` + approvalA + `]}`,
		},
		{
			name:      "approvals of an unknown agent",
			args:      []string{"approvals", "list", "--agent", "ghost"},
			routes:    map[string]fakeReply{"GET /api/v1/agents/ghost": {status: 404, body: `{"error":{"code":"not_found","message":"agent \"ghost\" not found"}}`}},
			wantCalls: []call{{line: "GET /api/v1/agents/ghost"}},
			wantErr:   `--agent: 404 not_found: agent "ghost" not found`,
		},
		{
			name: "a used approval",
			args: []string{"approvals", "list"},
			routes: map[string]fakeReply{"GET /api/v1/approvals": {body: `{"items":[` + strings.Replace(approvalA, `"state":"pending"`,
				`"state":"approved","resolved_at":"2025-01-02T04:00:00Z","resolved_by":"alice","used_at":"2025-01-02T04:05:00Z","used_by":"dec-9"`, 1) + `]}`}, "GET /api/v1/agents/a-1": {body: agentA1}},
			wantCalls: []call{{line: "GET /api/v1/approvals"}, {line: "GET /api/v1/agents/a-1"}},
			wantOut: "ID    STATE            AGENT     OWNER   REPO      ENVIRONMENT  EXPIRES               REASON\n" +
				"ap-1  approved (used)  octo-bot  team-a  acme/api  prod         2025-01-03T03:04:05Z  prod deploy needs a human\n",
		},
		{
			name:      "one approval",
			args:      []string{"approvals", "get", "ap-1"},
			routes:    map[string]fakeReply{"GET /api/v1/approvals/ap-1": {body: approvalA}, "GET /api/v1/agents/a-1": {body: agentA1}},
			wantCalls: []call{{line: "GET /api/v1/approvals/ap-1"}, {line: "GET /api/v1/agents/a-1"}},
			wantContains: []string{"Agent:        octo-bot (a-1)\n", "Approvers:    alice,bob\n", "Event:        deploy requested github:octo-bot[bot]\n",
				"Resolved:     -\n"},
		},
		{
			name:      "one approval as JSON",
			args:      []string{"approvals", "get", "ap-1", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/approvals/ap-1": {body: approvalA}},
			wantCalls: []call{{line: "GET /api/v1/approvals/ap-1"}},
			wantJSON:  approvalA,
		},
		{
			name:      "approve",
			args:      []string{"approvals", "approve", "ap-1", "--reason", "ticket 42"},
			routes:    map[string]fakeReply{"POST /api/v1/approvals/ap-1/approve": {body: `{"id":"ap-1","state":"approved","resolved_by":"alice"}`}},
			wantCalls: []call{{line: "POST /api/v1/approvals/ap-1/approve", body: `{"reason":"ticket 42"}`}},
			wantOut:   "approval ap-1 approved by alice\n",
		},
		{
			name:      "reject",
			args:      []string{"approvals", "reject", "ap-1", "--reason", "freeze"},
			routes:    map[string]fakeReply{"POST /api/v1/approvals/ap-1/reject": {body: `{"id":"ap-1","state":"rejected","resolved_by":"alice"}`}},
			wantCalls: []call{{line: "POST /api/v1/approvals/ap-1/reject", body: `{"reason":"freeze"}`}},
			wantOut:   "approval ap-1 rejected by alice\n",
		},
	})
}

// agentA1 is the agent a-1, which tables show by name.
const agentA1 = `{"id":"a-1","name":"octo-bot","type":"coding","owner":"team-a","capabilities":[],"tier":"new","state":"active",` +
	`"environments":[],"namespaces":[],"principals":["github:octo-bot[bot]"],"created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z","version":1}`

// ksOwner is a kill switch of an owner.
const ksOwner = `{"id":"ks-2","scope":"owner","target":"team-a","reason":"runaway loop","source":"manual","engaged_by":"alice","engaged_at":"2025-01-02T03:04:05Z"}`

const (
	rec1 = `{"seq":1,"id":"r1","time":"2025-01-02T03:04:05Z","prev_hash":"0","hash":"h1","kind":"admin_change","actor":"admin","agent_id":"a-1","agent_name":"octo-bot","message":"agent provisioned"}`
	rec3 = `{"seq":3,"id":"r3","time":"2025-01-02T03:06:05Z","prev_hash":"h2","hash":"h3","kind":"decision","actor":"webhook:github","agent_id":"a-2","agent_name":"copilot","principal":"github:copilot","initiator":"github:octocat","actor_is_agent":true,"decision":{"outcome":"allow"}}`
	rec4 = `{"seq":4,"id":"r4","time":"2025-01-02T03:07:05Z","prev_hash":"h3","hash":"h4","kind":"decision","actor":"webhook:github","principal":"github:copilot","initiator":"github:octocat","actor_is_agent":true,"decision":{"outcome":"deny","unregistered_agent":true,"reasons":["unregistered_agent: not registered"]}}`
	rec2 = `{"seq":2,"id":"r2","time":"2025-01-02T03:05:05Z","prev_hash":"h1","hash":"h2","kind":"decision","actor":"webhook:github","agent_id":"a-1","decision":{"outcome":"deny","effective":"allow","reasons":["prod needs trusted"]}}`
)

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	exportFile := filepath.Join(dir, "audit.ndjson")
	runCLICases(t, []cliCase{
		{
			name:      "one page with a cursor",
			args:      []string{"audit", "query", "--agent", "octo-bot", "--kind", "decision", "--from", "2025-01-01", "--to", "2025-01-03T00:00:00Z", "--limit", "2"},
			routes:    map[string]fakeReply{"GET /api/v1/audit": {body: `{"items":[` + rec1 + `,` + rec2 + `],"next_cursor":"2"}`}},
			wantCalls: []call{{line: "GET /api/v1/audit?agent=octo-bot&from=2025-01-01T00%3A00%3A00Z&kind=decision&limit=2&to=2025-01-03T00%3A00%3A00Z"}},
			wantOut: "SEQ  TIME                  KIND          ACTOR           AGENT     OUTCOME                 MESSAGE\n" +
				"1    2025-01-02T03:04:05Z  admin_change  admin           octo-bot  -                       agent provisioned\n" +
				"2    2025-01-02T03:05:05Z  decision      webhook:github  a-1       deny (effective allow)  prod needs trusted\n",
			wantStderr: []string{"more records follow: rerun with --after 2, or with --all"},
		},
		{
			name:      "whom an agent acted for",
			args:      []string{"audit", "query", "--kind", "decision"},
			routes:    map[string]fakeReply{"GET /api/v1/audit": {body: `{"items":[` + rec3 + `,` + rec4 + `]}`}},
			wantCalls: []call{{line: "GET /api/v1/audit?kind=decision"}},
			wantOut: "SEQ  TIME                  KIND      ACTOR           AGENT                       OUTCOME  MESSAGE\n" +
				"3    2025-01-02T03:06:05Z  decision  webhook:github  copilot for github:octocat  allow    -\n" +
				"4    2025-01-02T03:07:05Z  decision  webhook:github  for github:octocat          deny     unregistered_agent: not registered\n",
		},
		{
			name:      "one page as JSON",
			args:      []string{"audit", "query", "--owner", "team-a", "--outcome", "deny", "--provider", "github", "--after", "5", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/audit": {body: `{"items":[` + rec2 + `],"next_cursor":"2"}`}},
			wantCalls: []call{{line: "GET /api/v1/audit?after=5&outcome=deny&owner=team-a&provider=github"}},
			wantJSON:  `{"items":[` + rec2 + `],"next_cursor":"2"}`,
		},
		{
			name: "all pages",
			args: []string{"audit", "query", "--all", "-o", "json"},
			routes: map[string]fakeReply{
				"GET /api/v1/audit?limit=1000":         {body: `{"items":[` + rec1 + `],"next_cursor":"1"}`},
				"GET /api/v1/audit?after=1&limit=1000": {body: `{"items":[` + rec2 + `]}`},
			},
			wantCalls: []call{{line: "GET /api/v1/audit?limit=1000"}, {line: "GET /api/v1/audit?after=1&limit=1000"}},
			wantJSON:  `{"items":[` + rec1 + `,` + rec2 + `]}`,
		},
		{
			name:    "bad --from",
			args:    []string{"audit", "query", "--from", "yesterday"},
			wantErr: `--from "yesterday"`,
		},
		{
			name:      "verify intact",
			args:      []string{"audit", "verify"},
			routes:    map[string]fakeReply{"GET /api/v1/audit/verify": {body: `{"result":{"ok":true,"checked":12,"head":"h12"}}` + "\n"}},
			wantCalls: []call{{line: "GET /api/v1/audit/verify?progress=true"}},
			wantOut:   "audit chain intact: 12 records checked, head h12\n",
		},
		{
			name:      "verify broken exits 2",
			args:      []string{"audit", "verify"},
			routes:    map[string]fakeReply{"GET /api/v1/audit/verify": {body: `{"progress":{"checked":1,"total":9}}` + "\n" + `{"result":{"ok":false,"checked":4,"head":"h4","break":{"seq":5,"reason":"hash mismatch"}}}` + "\n"}},
			wantCalls: []call{{line: "GET /api/v1/audit/verify?progress=true"}},
			wantOut:   "audit chain BROKEN: record 5: hash mismatch (4 records checked, last good head h4)\n",
			wantErr:   "audit chain broken: record 5: hash mismatch", wantExit: 2,
		},
		{
			name:      "verify broken as JSON exits 2",
			args:      []string{"audit", "verify", "-o", "json"},
			routes:    map[string]fakeReply{"GET /api/v1/audit/verify": {body: `{"progress":{"checked":1,"total":9}}` + "\n" + `{"result":{"ok":false,"checked":4,"head":"h4","break":{"seq":5,"reason":"hash mismatch"}}}` + "\n"}},
			wantCalls: []call{{line: "GET /api/v1/audit/verify?progress=true"}},
			wantJSON:  `{"ok":false,"checked":4,"head":"h4","break":{"seq":5,"reason":"hash mismatch"}}`,
			wantErr:   "audit chain broken", wantExit: 2,
		},
		{
			name:      "verify against a server without the stream",
			args:      []string{"audit", "verify", "--progress", "always"},
			routes:    map[string]fakeReply{"GET /api/v1/audit/verify": {body: `{"ok":false,"checked":4,"head":"h4","break":{"seq":5,"reason":"hash mismatch"}}`}},
			wantCalls: []call{{line: "GET /api/v1/audit/verify?progress=true"}},
			wantOut:   "audit chain BROKEN: record 5: hash mismatch (4 records checked, last good head h4)\n",
			wantErr:   "audit chain broken: record 5: hash mismatch", wantExit: 2,
		},
		{
			name: "verify with a progress bar",
			args: []string{"audit", "verify", "--progress", "always"},
			routes: map[string]fakeReply{"GET /api/v1/audit/verify": {
				header: map[string]string{"X-Audit-Head-Seq": "1200000"},
				body: `{"progress":{"checked":500000,"total":1200000}}` + "\n" +
					`{"progress":{"checked":1000000,"total":1200000}}` + "\n" +
					`{"result":{"ok":true,"checked":1200004,"head":"h1200004"}}` + "\n",
			}},
			wantCalls:  []call{{line: "GET /api/v1/audit/verify?progress=true"}},
			wantOut:    "audit chain intact: 1200004 records checked, head h1200004\n",
			wantStderr: []string{"verifying: 500,000 of 1,200,000 records (42%)", "verifying: 1,200,004 of 1,200,004 records (100%)"},
		},
		{
			name: "verify with a progress bar, interrupted",
			args: []string{"audit", "verify", "--progress", "always"},
			routes: map[string]fakeReply{"GET /api/v1/audit/verify": {
				body: `{"progress":{"checked":500,"total":1200}}` + "\n" +
					`{"error":{"code":"internal","message":"verification interrupted"}}` + "\n",
			}},
			wantCalls: []call{{line: "GET /api/v1/audit/verify?progress=true"}},
			wantErr:   "GET /audit/verify: the server stopped: verification interrupted",
		},
		{
			name:    "bad --progress",
			args:    []string{"audit", "verify", "--progress", "sometimes"},
			wantErr: `"sometimes" is not auto, always or never`,
		},
		{
			name: "export with a progress bar",
			args: []string{"audit", "export", "--after", "1", "-f", filepath.Join(dir, "progress.ndjson"), "--progress", "always"},
			routes: map[string]fakeReply{"GET /api/v1/audit/export": {
				header: map[string]string{"X-Audit-Head-Seq": "3"},
				body:   rec2 + "\n" + rec3 + "\n",
			}},
			wantCalls:  []call{{line: "GET /api/v1/audit/export?after=1"}},
			wantStderr: []string{"exporting: 1 of 2 records (50%)", "exporting: 2 of 2 records (100%)", "exported 2 audit records to "},
		},
		{
			name:      "export to stdout",
			args:      []string{"audit", "export", "--after", "3"},
			routes:    map[string]fakeReply{"GET /api/v1/audit/export": {body: rec1 + "\n" + rec2 + "\n"}},
			wantCalls: []call{{line: "GET /api/v1/audit/export?after=3"}},
			wantOut:   rec1 + "\n" + rec2 + "\n",
		},
		{
			name:       "export to a file",
			args:       []string{"audit", "export", "-f", exportFile},
			routes:     map[string]fakeReply{"GET /api/v1/audit/export": {body: rec1 + "\n" + rec2 + "\n"}},
			wantCalls:  []call{{line: "GET /api/v1/audit/export"}},
			wantStderr: []string{"exported 2 audit records to " + exportFile},
		},
	})
	got, err := os.ReadFile(exportFile)
	if err != nil || string(got) != rec1+"\n"+rec2+"\n" {
		t.Fatalf("export file = %q, %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left files behind: %v", entries)
	}
}

func TestExportToFileFailureLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "audit.ndjson")
	api := newFakeAPI(t, map[string]fakeReply{"GET /api/v1/audit/export": {status: 403, body: `{"error":{"code":"forbidden","message":"no"}}`}})
	env := map[string]string{"ADMISSION_SERVER": api.url, "ADMISSION_TOKEN": testAPIToken}
	_, _, err := runCLI(t, env, "", "audit", "export", "-f", name)
	if err == nil || !strings.Contains(err.Error(), "403 forbidden: no") {
		t.Fatalf("error = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}
}
