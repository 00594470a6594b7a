package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/store"
)

const approvalJSON = `{"id":"ap-1","state":"pending","agent_id":"a-1","owner":"team-a","provider":"github","repo":"acme/api",
"sha":"abc","environment":"prod","reason":"prod deploy","approvers":["alice"],"event":{"provider":"github","kind":"deploy","principal":"github:x"},
"decision_seq":7,"created_at":"2025-01-02T03:04:05Z","expires_at":"2025-01-03T03:04:05Z"}`

func TestApprovalsCostsEvaluateMe(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	ev := event.Event{Provider: "github", Kind: event.KindDeploy, Repo: "acme/api", Environment: "prod", Principal: "github:octo-bot[bot]"}
	runCases(t, []apiCase{
		{
			name: "list approvals",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListApprovals(ctx, store.ApprovalFilter{State: store.ApprovalPending, AgentID: "a-1", Owner: "team-a"})
			},
			want:  wantReq{method: "GET", path: "/api/v1/approvals", query: url.Values{"state": {"pending"}, "agent": {"a-1"}, "owner": {"team-a"}}},
			reply: reply{body: `{"items":[` + approvalJSON + `]}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if l := got.([]store.Approval); len(l) != 1 || l[0].Event.Kind != event.KindDeploy {
					t.Errorf("approvals = %+v", l)
				}
			},
		},
		{
			name:  "get approval",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.GetApproval(ctx, "ap-1") },
			want:  wantReq{method: "GET", path: "/api/v1/approvals/ap-1"},
			reply: reply{body: approvalJSON},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if a := got.(store.Approval); a.ID != "ap-1" || a.State != store.ApprovalPending || a.DecisionSeq != 7 {
					t.Errorf("approval = %+v", a)
				}
			},
		},
		{
			name:  "costs by owner in a period",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Costs(ctx, store.CostByOwner, from, to) },
			want:  wantReq{method: "GET", path: "/api/v1/costs", query: url.Values{"by": {"owner"}, "from": {"2025-01-01T00:00:00Z"}, "to": {"2025-02-01T00:00:00Z"}}},
			reply: reply{body: `{"by":"owner","from":"2025-01-01T00:00:00Z","to":"2025-02-01T00:00:00Z","items":[{"key":"team-a","minutes":12.5,"amount":3.2,"currency":"USD","entries":4}]}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				r := got.(CostReport)
				if r.By != store.CostByOwner || !r.From.Equal(from) || len(r.Items) != 1 || r.Items[0].Amount != 3.2 {
					t.Errorf("report = %+v", r)
				}
			},
		},
		{
			name:  "costs with server defaults",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Costs(ctx, "", time.Time{}, time.Time{}) },
			want:  wantReq{method: "GET", path: "/api/v1/costs"},
			reply: reply{body: `{"by":"agent","from":"2025-01-01T00:00:00Z","to":"2025-02-01T00:00:00Z","items":null}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if r := got.(CostReport); r.Items == nil {
					t.Error("items = nil, want empty")
				}
			},
		},
		{
			name: "evaluate an event",
			call: func(ctx context.Context, c *Client) (any, error) { return c.Evaluate(ctx, ev) },
			want: wantReq{method: "POST", path: "/api/v1/evaluate", body: `{"event":{"provider":"github","kind":"deploy","repo":"acme/api",
				"environment":"prod","principal":"github:octo-bot[bot]","trigger":{}}}`},
			reply: reply{body: `{"items":[{"event":{"provider":"github","kind":"deploy","principal":"github:octo-bot[bot]"},
				"result":{"decision_id":"d1","outcome":"deny","effective":"allow","enforcement":"warn",
				"reasons":[{"rule":"prod_needs_trusted","message":"prod needs a trusted agent"},"plain string reason"],
				"policy_revision":"r1","dry_run":true}}]}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				l := got.([]Evaluation)
				if len(l) != 1 {
					t.Fatalf("evaluations = %+v", l)
				}
				res := l[0].Result
				if res.Outcome != gate.Deny || res.Effective != gate.Allow || len(res.Reasons) != 2 ||
					res.Reasons[0].Rule != "prod_needs_trusted" || res.Reasons[1].Message != "plain string reason" || !res.DryRun {
					t.Errorf("result = %+v", res)
				}
			},
		},
		{
			name: "evaluate a raw payload",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.EvaluatePayload(ctx, "generic", map[string]string{"X-Event": "deploy"}, json.RawMessage(`{"a":1}`))
			},
			want:  wantReq{method: "POST", path: "/api/v1/evaluate", body: `{"provider":"generic","headers":{"X-Event":"deploy"},"payload":{"a":1}}`},
			reply: reply{body: `{"items":[]}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if l := got.([]Evaluation); l == nil || len(l) != 0 {
					t.Errorf("evaluations = %#v", l)
				}
			},
		},
		{
			name: "me",
			call: func(ctx context.Context, c *Client) (any, error) { return c.Me(ctx) },
			want: wantReq{method: "GET", path: "/api/v1/me"},
			reply: reply{body: `{"agent":` + agentJSON + `,"quotas":[{"name":"deploys","concurrency":false,"used":3,"limit":10,"window":3600000000000}],
				"kill_switch":` + killSwitchJSON + `}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				s := got.(AgentStatus)
				if s.Agent.ID != "a-1" || len(s.Quotas) != 1 || s.Quotas[0].Window != time.Hour || s.KillSwitch == nil {
					t.Errorf("status = %+v", s)
				}
			},
		},
		{
			name:  "me with an operator token",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Me(ctx) },
			want:  wantReq{method: "GET", path: "/api/v1/me"},
			reply: reply{status: 403, body: `{"error":{"code":"forbidden","message":"/api/v1/me is for agent tokens; admin is not an agent"}}`},
			check: wantAPIError(403, "forbidden", "403 forbidden: /api/v1/me is for agent tokens; admin is not an agent"),
		},
	})
}

func TestEvaluatePayloadNeedsProvider(t *testing.T) {
	c, err := New(Options{BaseURL: "http://127.0.0.1:1", Token: "t"})
	noErr(t, err)
	_, err = c.EvaluatePayload(t.Context(), "", nil, json.RawMessage(`{}`))
	if err == nil || !strings.Contains(err.Error(), "provider is required") {
		t.Fatalf("error = %v", err)
	}
}
