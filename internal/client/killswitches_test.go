package client

import (
	"context"
	"net/url"
	"testing"

	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

// wantKillSwitch checks that the call returned the switch in killSwitchJSON.
func wantKillSwitch(t *testing.T, got any, err error) {
	t.Helper()
	noErr(t, err)
	ks, ok := got.(store.KillSwitch)
	if !ok {
		t.Fatalf("got %T, want store.KillSwitch", got)
	}
	if ks.ID != "ks-1" || ks.Reason != "runaway" || ks.EngagedBy != "alice" {
		t.Errorf("kill switch = %+v", ks)
	}
}

func TestKillSwitches(t *testing.T) {
	runCases(t, []apiCase{
		{
			name:  "list active",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.ListKillSwitches(ctx, false) },
			want:  wantReq{method: "GET", path: "/api/v1/killswitches"},
			reply: reply{body: `{"items":[` + killSwitchJSON + `]}`},
			check: func(t *testing.T, got any, err error) {
				noErr(t, err)
				if l := got.([]store.KillSwitch); len(l) != 1 || l[0].ID != "ks-1" {
					t.Errorf("list = %+v", l)
				}
			},
		},
		{
			name:  "list all",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.ListKillSwitches(ctx, true) },
			want:  wantReq{method: "GET", path: "/api/v1/killswitches", query: url.Values{"all": {"true"}}},
			reply: reply{body: `{"items":[]}`},
		},
		{
			name:  "get",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.GetKillSwitch(ctx, "ks-1") },
			want:  wantReq{method: "GET", path: "/api/v1/killswitches/ks-1"},
			reply: reply{body: killSwitchJSON},
			check: wantKillSwitch,
		},
		{
			name: "engage owner",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.EngageKillSwitch(ctx, registry.KillRequest{Scope: store.ScopeOwner, Target: "team-a", Reason: "runaway", Source: "ignored"})
			},
			want:  wantReq{method: "POST", path: "/api/v1/killswitches", body: `{"scope":"owner","target":"team-a","reason":"runaway"}`},
			reply: reply{status: 201, body: killSwitchJSON},
			check: wantKillSwitch,
		},
		{
			name:  "release with reason",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.ReleaseKillSwitch(ctx, "ks-1", "fixed") },
			want:  wantReq{method: "DELETE", path: "/api/v1/killswitches/ks-1", body: `{"reason":"fixed"}`},
			reply: reply{body: killSwitchJSON},
			check: wantKillSwitch,
		},
		{
			name:  "release without reason sends no body",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.ReleaseKillSwitch(ctx, "ks-1", "") },
			want:  wantReq{method: "DELETE", path: "/api/v1/killswitches/ks-1"},
			reply: reply{body: killSwitchJSON},
			check: wantKillSwitch,
		},
		{
			name:  "release forbidden",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.ReleaseKillSwitch(ctx, "ks-1", "") },
			want:  wantReq{method: "DELETE", path: "/api/v1/killswitches/ks-1"},
			reply: reply{status: 403, body: `{"error":{"code":"forbidden","message":"only an admin or the owner (team-a) may release this kill switch"}}`},
			check: wantAPIError(403, "forbidden", "403 forbidden: only an admin or the owner (team-a) may release this kill switch"),
		},
	})
}
