package client

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

const agentJSON = `{"id":"a-1","name":"octo-bot","type":"coding","owner":"team-a","capabilities":["build"],
"tier":"new","state":"active","environments":["staging"],"namespaces":[],"principals":["github:octo-bot[bot]"],
"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z","version":1}`

const killSwitchJSON = `{"id":"ks-1","scope":"agent","target":"a-1","reason":"runaway","source":"manual",
"engaged_by":"alice","engaged_at":"2025-01-02T03:04:05Z"}`

// wantAgent checks that the call returned the agent in agentJSON.
func wantAgent(t *testing.T, got any, err error) {
	t.Helper()
	noErr(t, err)
	a, ok := got.(agents.Agent)
	if !ok {
		t.Fatalf("got %T, want agents.Agent", got)
	}
	if a.ID != "a-1" || a.Name != "octo-bot" || a.Tier != agents.TierNew || a.Version != 1 || len(a.Environments) != 1 {
		t.Errorf("agent = %+v", a)
	}
}

func TestAgents(t *testing.T) {
	expires := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	owner := "team-b"
	envs := []string{"staging", "prod"}
	runCases(t, []apiCase{
		{
			name: "list with filter",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListAgents(ctx, store.AgentFilter{Owner: "team-a", Type: "coding", State: agents.StateActive, Tier: agents.TierNew})
			},
			want:  wantReq{method: "GET", path: "/api/v1/agents", query: url.Values{"owner": {"team-a"}, "type": {"coding"}, "state": {"active"}, "tier": {"new"}}},
			reply: reply{body: `{"items":[` + agentJSON + `]}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if l := got.([]agents.Agent); len(l) != 1 || l[0].Name != "octo-bot" {
					t.Errorf("list = %+v", l)
				}
			},
		},
		{
			name:  "list without filter, empty",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.ListAgents(ctx, store.AgentFilter{}) },
			want:  wantReq{method: "GET", path: "/api/v1/agents"},
			reply: reply{body: `{"items":null}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if l := got.([]agents.Agent); l == nil || len(l) != 0 {
					t.Errorf("list = %#v, want empty non-nil", l)
				}
			},
		},
		{
			name:  "get escapes the id",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.GetAgent(ctx, "a/b c") },
			want:  wantReq{method: "GET", path: "/api/v1/agents/a%2Fb%20c"},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name: "create",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateAgent(ctx, registry.Spec{Name: "octo-bot", Type: "coding", Owner: "team-a",
					Capabilities: []string{"build"}, Environments: []string{"staging"}, ExpiresAt: &expires})
			},
			want: wantReq{method: "POST", path: "/api/v1/agents", body: `{"name":"octo-bot","type":"coding","owner":"team-a",
				"capabilities":["build"],"tier":"","environments":["staging"],"namespaces":null,"principals":null,"labels":null,
				"expires_at":"2026-01-01T00:00:00Z"}`},
			reply: reply{status: 201, body: `{"agent":` + agentJSON + `,"token":"agt_new"}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				ca := got.(CreatedAgent)
				if ca.Token != "agt_new" || ca.Agent.ID != "a-1" {
					t.Errorf("created = %+v", ca)
				}
			},
		},
		{
			name: "update sends only what is set",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateAgent(ctx, "octo-bot", registry.Patch{Owner: &owner, Environments: &envs, ClearExpiry: true})
			},
			want:  wantReq{method: "PATCH", path: "/api/v1/agents/octo-bot", body: `{"owner":"team-b","environments":["staging","prod"],"clear_expiry":true}`},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name: "update with empty list and version",
			call: func(ctx context.Context, c *Client) (any, error) {
				empty := []string{}
				return c.UpdateAgent(ctx, "a-1", registry.Patch{Namespaces: &empty, ExpiresAt: &expires, Version: 3})
			},
			want:  wantReq{method: "PATCH", path: "/api/v1/agents/a-1", body: `{"namespaces":[],"expires_at":"2026-01-01T00:00:00Z","version":3}`},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name: "promote to a tier",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Promote(ctx, "a-1", agents.TierTrusted, "30 clean days")
			},
			want:  wantReq{method: "POST", path: "/api/v1/agents/a-1/promote", body: `{"reason":"30 clean days","to":"trusted"}`},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name:  "demote one step",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Demote(ctx, "a-1", "", "incident") },
			want:  wantReq{method: "POST", path: "/api/v1/agents/a-1/demote", body: `{"reason":"incident"}`},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name:  "suspend",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Suspend(ctx, "a-1", "maintenance") },
			want:  wantReq{method: "POST", path: "/api/v1/agents/a-1/suspend", body: `{"reason":"maintenance"}`},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name:  "resume without reason",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Resume(ctx, "a-1", "") },
			want:  wantReq{method: "POST", path: "/api/v1/agents/a-1/resume", body: `{}`},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name:  "decommission",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Decommission(ctx, "a-1", "retired") },
			want:  wantReq{method: "POST", path: "/api/v1/agents/a-1/decommission", body: `{"reason":"retired"}`},
			reply: reply{body: agentJSON},
			check: wantAgent,
		},
		{
			name:  "kill returns the switch",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Kill(ctx, "octo-bot", "runaway") },
			want:  wantReq{method: "POST", path: "/api/v1/agents/octo-bot/kill", body: `{"reason":"runaway"}`},
			reply: reply{body: killSwitchJSON},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if ks := got.(store.KillSwitch); ks.ID != "ks-1" || ks.Scope != store.ScopeAgent || !ks.Active() {
					t.Errorf("kill switch = %+v", ks)
				}
			},
		},
		{
			name:  "rotate",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.RotateToken(ctx, "a-1") },
			want:  wantReq{method: "POST", path: "/api/v1/agents/a-1/rotate"},
			reply: reply{body: `{"token":"agt_rotated","old_valid_until":"2025-01-02T04:04:05Z"}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				rot := got.(registry.Rotation)
				if rot.Token != "agt_rotated" || rot.OldValidUntil.IsZero() {
					t.Errorf("rotation = %+v", rot)
				}
			},
		},
		{
			name:  "conflict is an APIError",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Promote(ctx, "a-1", "", "why") },
			want:  wantReq{method: "POST", path: "/api/v1/agents/a-1/promote", body: `{"reason":"why"}`},
			reply: reply{status: 409, body: `{"error":{"code":"conflict","message":"agent octo-bot is already at tier trusted"}}`},
			check: wantAPIError(409, "conflict", "409 conflict: agent octo-bot is already at tier trusted"),
		},
	})
}

// wantAPIError checks the call failed with that status, code and text.
func wantAPIError(status int, code, text string) func(t *testing.T, got any, err error) {
	return func(t *testing.T, _ any, err error) {
		t.Helper()
		apiErr, ok := err.(*APIError)
		if !ok {
			t.Fatalf("error = %v (%T), want *APIError", err, err)
		}
		if apiErr.Status != status || apiErr.Code != code || apiErr.Error() != text {
			t.Errorf("APIError = %+v (%q), want %d %s %q", apiErr, apiErr.Error(), status, code, text)
		}
	}
}
