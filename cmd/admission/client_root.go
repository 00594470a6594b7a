package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/client"
)

// Output formats accepted by -o.
const (
	outputTable = "table"
	outputJSON  = "json"
	// outputYAML is accepted by `agents get` only: the agent as a file
	// declares it (agents as code).
	outputYAML = "yaml"
)

// clientCommands are the subcommands that call a running server's API with
// --server and --token.
func (a *app) clientCommands() []*cobra.Command {
	return []*cobra.Command{
		a.agentsCmd(),
		a.applyCmd(),
		a.diffCmd(),
		a.killSwitchCmd(),
		a.approvalsCmd(),
		a.promotionsCmd(),
		a.auditCmd(),
		a.costsCmd(),
		a.evaluateCmd(),
		a.meCmd(),
		a.rollbackCmd(),
	}
}

// session is what one client command works with: the API client and a
// printer for the chosen output format.
type session struct {
	api *client.Client
	out *printer
}

// session checks the output format and the token before any request is
// made, and builds the API client.
func (a *app) session(cmd *cobra.Command) (*session, error) {
	return a.sessionWith(cmd, nil)
}

// sessionAs is session for a command that prints -o yaml itself when
// yaml is true.
func (a *app) sessionAs(cmd *cobra.Command, yaml bool) (*session, error) {
	if !yaml {
		return a.session(cmd)
	}
	saved := a.output
	a.output = outputTable
	defer func() { a.output = saved }()
	return a.session(cmd)
}

// sessionWith is session with a specific http.Client (nil for the
// client's default with its 30 second time-out).
func (a *app) sessionWith(cmd *cobra.Command, hc *http.Client) (*session, error) {
	p, err := newPrinter(a.output, cmd.OutOrStdout(), cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(a.token) == "" {
		return nil, errors.New("no API token: pass --token or set ADMISSION_TOKEN")
	}
	c, err := client.New(client.Options{BaseURL: a.server, Token: a.token, HTTPClient: hc, UserAgent: "admission/" + version})
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return &session{api: c, out: p}, nil
}

// streamingHTTPClient has no overall time-out, so that a long stream is not
// cut off, but still gives up on a server that does not answer within
// headerWait (the time to the first byte of the answer).
func streamingHTTPClient(headerWait time.Duration) *http.Client {
	tr, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: headerWait}}
	}
	tr = tr.Clone()
	tr.ResponseHeaderTimeout = headerWait
	return &http.Client{Transport: tr}
}

// parseWhenFlag reads a point in time given as RFC 3339, as a date
// (2006-01-02, midnight UTC), or as a Go duration counted from now in the
// direction sign (+1: that long from now, -1: that long ago).
func parseWhenFlag(flag, v string, now time.Time, sign int) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--%s %q: give an RFC 3339 time (2025-01-02T15:04:05Z), a date (2025-01-02) or a positive duration (720h)", flag, v)
	}
	return now.Add(time.Duration(sign) * d).UTC().Truncate(time.Second), nil
}

// optionalTimeFlag parses an optional time flag (zero when empty).
func optionalTimeFlag(flag, v string, now time.Time, sign int) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	return parseWhenFlag(flag, v, now, sign)
}
