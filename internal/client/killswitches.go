package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

// ListKillSwitches returns the engaged kill switches, or every switch ever
// engaged when all is true, newest first.
func (c *Client) ListKillSwitches(ctx context.Context, all bool) ([]store.KillSwitch, error) {
	q := url.Values{}
	if all {
		q.Set("all", "true")
	}
	return list[store.KillSwitch](ctx, c, "/killswitches", q)
}

// GetKillSwitch returns one kill switch.
func (c *Client) GetKillSwitch(ctx context.Context, id string) (store.KillSwitch, error) {
	var ks store.KillSwitch
	p, err := escape("kill switch", id)
	if err != nil {
		return ks, err
	}
	err = c.do(ctx, http.MethodGet, "/killswitches/"+p, nil, nil, &ks)
	return ks, err
}

// EngageKillSwitch pulls a kill switch for an agent, an owner or everyone.
// Engaging a switch that is already engaged returns it unchanged.
func (c *Client) EngageKillSwitch(ctx context.Context, r registry.KillRequest) (store.KillSwitch, error) {
	var ks store.KillSwitch
	err := c.do(ctx, http.MethodPost, "/killswitches", nil, r, &ks)
	return ks, err
}

// ReleaseKillSwitch resets a kill switch. The reason is optional; without
// one the DELETE carries no body.
func (c *Client) ReleaseKillSwitch(ctx context.Context, id, reason string) (store.KillSwitch, error) {
	var ks store.KillSwitch
	p, err := escape("kill switch", id)
	if err != nil {
		return ks, err
	}
	var body any
	if reason != "" {
		body = reasonRequest{Reason: reason}
	}
	err = c.do(ctx, http.MethodDelete, "/killswitches/"+p, nil, body, &ks)
	return ks, err
}
