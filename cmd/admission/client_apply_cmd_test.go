package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const payFile = `kind: Agent
name: pay-coder
type: coding
owner: payments@example.com
capabilities: [build]
environments: [staging]
principals: ["github:pay-coder[bot]"]
labels: {team: payments}
---
kind: Agent
name: pay-deployer
type: deployment
owner: payments@example.com
capabilities: [deploy]
environments: [staging, production]
principals: ["argocd:pay-deployer"]
labels: {team: payments}
`

// payRequest is the apply request payFile makes, as JSON.
const payRequest = `{"agents":[` +
	`{"name":"pay-coder","type":"coding","owner":"payments@example.com","capabilities":["build"],"tier":"","environments":["staging"],"namespaces":null,"principals":["github:pay-coder[bot]"],"labels":{"team":"payments"},"expires_at":null},` +
	`{"name":"pay-deployer","type":"deployment","owner":"payments@example.com","capabilities":["deploy"],"tier":"","environments":["staging","production"],"namespaces":null,"principals":["argocd:pay-deployer"],"labels":{"team":"payments"},"expires_at":null}]`

const applyAnswer = `{"changes":[` +
	`{"name":"pay-coder","id":"a-1","action":"update","fields":[{"field":"owner","from":"old@example.com","to":"payments@example.com"},{"field":"environments","from":["staging","preview"],"to":["staging"]}],"ignored":["tier: declared trusted, is new; tiers change through promote and demote"]},` +
	`{"name":"pay-deployer","id":"a-2","action":"create","fields":[{"field":"type","from":null,"to":"deployment"},{"field":"labels","from":null,"to":{"team":"payments"}}]},` +
	`{"name":"pay-old","id":"a-3","action":"decommission","fields":[{"field":"state","from":"active","to":"decommissioned"}]}],` +
	`"dry_run":%s,"audit_seq":%s}`

func TestApplyCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "payments.yaml")
	if err := os.WriteFile(file, []byte(payFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not agents"), 0o600); err != nil {
		t.Fatal(err)
	}
	unchanged := `{"changes":[{"name":"pay-coder","id":"a-1","action":"unchanged"},{"name":"pay-deployer","id":"a-2","action":"unchanged"}],"dry_run":true}`
	runCLICases(t, []cliCase{
		{
			name:      "apply a file",
			args:      []string{"apply", "-f", file, "--reason", "payments#12"},
			routes:    map[string]fakeReply{"POST /api/v1/agents/apply": {body: fmt.Sprintf(applyAnswer, "false", "42")}},
			wantCalls: []call{{line: "POST /api/v1/agents/apply", body: payRequest + `,"reason":"payments#12"}`}},
			wantOut: "agent/pay-coder configured (owner, environments)\n" +
				"  not applied: tier: declared trusted, is new; tiers change through promote and demote\n" +
				"agent/pay-deployer created\n" +
				"agent/pay-old decommissioned\n",
		},
		{
			name:         "apply a directory, dry run, with prune",
			args:         []string{"apply", "-f", dir, "--dry-run", "--prune", "-l", "team=payments"},
			routes:       map[string]fakeReply{"POST /api/v1/agents/apply": {body: fmt.Sprintf(applyAnswer, "true", "0")}},
			wantCalls:    []call{{line: "POST /api/v1/agents/apply", body: payRequest + `,"prune":{"team":"payments"},"dry_run":true}`}},
			wantContains: []string{"agent/pay-deployer created (dry run)\n", "agent/pay-old decommissioned (dry run)\n"},
		},
		{
			name:      "apply from standard input",
			args:      []string{"apply", "-f", "-", "-o", "json"},
			stdin:     payFile,
			routes:    map[string]fakeReply{"POST /api/v1/agents/apply": {body: unchanged}},
			wantCalls: []call{{line: "POST /api/v1/agents/apply", body: payRequest + `}`}},
			wantJSON:  unchanged,
		},
		{
			name:    "prune without a selector",
			args:    []string{"apply", "-f", file, "--prune"},
			wantErr: "--prune and --selector go together",
		},
		{
			name:    "no file",
			args:    []string{"apply"},
			wantErr: "-f is required",
		},
		{
			name:    "a bad document names its file",
			args:    []string{"apply", "-f", "-"},
			stdin:   "kind: Agent\nname: x\nteir: trusted\n",
			wantErr: "<stdin>: document 1: yaml: unmarshal errors:\n  line 3: field teir not found",
		},
		{
			name:      "diff with differences exits 2",
			args:      []string{"diff", "-f", file},
			routes:    map[string]fakeReply{"POST /api/v1/agents/apply": {body: fmt.Sprintf(applyAnswer, "true", "0")}},
			wantCalls: []call{{line: "POST /api/v1/agents/apply", body: payRequest + `,"dry_run":true}`}},
			wantOut: "~ agent/pay-coder\n" +
				"    owner: old@example.com -> payments@example.com\n" +
				"    environments: [staging, preview] -> [staging]\n" +
				"    not applied: tier: declared trusted, is new; tiers change through promote and demote\n" +
				"+ agent/pay-deployer\n" +
				"    type: deployment\n" +
				"    labels: {team=payments}\n" +
				"- agent/pay-old\n" +
				"    state: active -> decommissioned\n",
			wantErr: "the files differ from the registry", wantExit: 2,
		},
		{
			name:      "diff without differences",
			args:      []string{"diff", "-f", file},
			routes:    map[string]fakeReply{"POST /api/v1/agents/apply": {body: unchanged}},
			wantCalls: []call{{line: "POST /api/v1/agents/apply", body: payRequest + `,"dry_run":true}`}},
			wantOut:   "no differences\n",
		},
		{
			name: "get as YAML",
			args: []string{"agents", "get", "pay-coder", "-o", "yaml"},
			routes: map[string]fakeReply{"GET /api/v1/agents/pay-coder": {body: `{"id":"a-1","name":"pay-coder","type":"coding","owner":"payments@example.com",` +
				`"capabilities":["build"],"tier":"new","state":"suspended","environments":["staging"],"namespaces":[],"principals":["github:pay-coder[bot]"],` +
				`"labels":{"team":"payments"},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","version":3}`}},
			wantCalls: []call{{line: "GET /api/v1/agents/pay-coder"}},
			wantOut: "apiVersion: agentgate.io/v1\nkind: Agent\nname: pay-coder\ntype: coding\nowner: payments@example.com\ntier: new\n" +
				"capabilities: [build]\nenvironments: [staging]\nprincipals: ['github:pay-coder[bot]']\nlabels:\n  team: payments\n",
		},
		{
			name:    "yaml elsewhere is refused",
			args:    []string{"agents", "list", "-o", "yaml"},
			wantErr: `unknown output format "yaml"`,
		},
	})
}
