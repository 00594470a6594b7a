package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// gateExit is the exit status of a refused or unanswered gate.
type gateExit struct {
	code int
	msg  string
}

func (e *gateExit) Error() string { return e.msg }
func (e *gateExit) ExitCode() int { return e.code }

// Exit statuses of admission gate.
const (
	exitDenied  = 1 // refused, rejected, expired or cancelled
	exitTimeout = 3 // still pending when --wait ran out
)

// gateReply is the part of the server's answer the command prints.
type gateReply struct {
	Status   string `json:"status"`
	Message  string `json:"message"`
	Poll     string `json:"poll"`
	Decision *struct {
		Reasons []struct {
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"reasons"`
	} `json:"decision"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (a *app) gateCmd() *cobra.Command {
	var (
		provider, tokenEnv string
		poll, wait         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "Ask agentgate whether this CI job may proceed, and wait for the answer",
		Long: `Run as a step of a deploy job. It sends the job's OIDC ID token to
POST <server>/<provider>/gate; agentgate verifies it against the CI
instance's keys, decides, and answers. Exit status: 0 allowed (or approved),
1 refused (or rejected, expired, cancelled), 3 still waiting when --wait runs
out. While a human approval is pending it polls every --poll.

GitLab (.gitlab-ci.yml):

  deploy:
    id_tokens:
      AGENTGATE_ID_TOKEN:
        aud: https://agentgate.example.com
    script:
      - admission gate --server https://agentgate.example.com
      - ./deploy.sh`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, ok := a.env(tokenEnv)
			if !ok || strings.TrimSpace(token) == "" {
				return fmt.Errorf("no ID token in $%s: declare it under id_tokens in the job", tokenEnv)
			}
			g := gateClient{base: strings.TrimRight(a.server, "/"), token: strings.TrimSpace(token), out: cmd.OutOrStdout(),
				hc: &http.Client{Timeout: 30 * time.Second}}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			return g.run(ctx, "/"+url.PathEscape(provider)+"/gate", poll)
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "gitlab", "the CI system asking (its /<provider>/gate endpoint)")
	f.StringVar(&tokenEnv, "id-token-env", "AGENTGATE_ID_TOKEN", "environment variable holding the job's OIDC ID token")
	f.DurationVar(&poll, "poll", 10*time.Second, "how often to ask while an approval is pending")
	f.DurationVar(&wait, "wait", 4*time.Hour, "how long to wait for a human before giving up (exit 3)")
	return cmd
}

// gateClient asks and polls a synchronous gate.
type gateClient struct {
	base, token string
	// headers go with every ask and poll (the Argo CD hook names its app).
	headers map[string]string
	out     io.Writer
	hc      *http.Client
}

func (g gateClient) run(ctx context.Context, path string, poll time.Duration) error {
	method := http.MethodPost
	reply, status, err := g.ask(ctx, method, path)
	for {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return &gateExit{code: exitTimeout, msg: "gave up waiting for agentgate's answer"}
		case err != nil || status >= 500:
			// A blip must not fail a job that may wait hours: ask again
			// (a repeated ask is answered from the first decision).
			fmt.Fprintf(g.out, "agentgate: %s; asking again\n", describe(reply, err, status))
			select {
			case <-ctx.Done():
				return &gateExit{code: exitTimeout, msg: "gave up waiting for agentgate's answer"}
			case <-time.After(poll):
			}
			reply, status, err = g.ask(ctx, method, path)
			continue
		}
		switch status {
		case http.StatusOK:
			fmt.Fprintf(g.out, "agentgate: allowed%s\n", suffixMsg(reply.Message))
			return nil
		case http.StatusForbidden:
			fmt.Fprintf(g.out, "agentgate: refused%s\n", suffixMsg(reply.Message))
			if reply.Decision != nil {
				for _, r := range reply.Decision.Reasons {
					fmt.Fprintf(g.out, "  - %s: %s\n", r.Rule, r.Message)
				}
			}
			return &gateExit{code: exitDenied, msg: "agentgate refused this job"}
		case http.StatusAccepted:
			fmt.Fprintf(g.out, "agentgate: %s\n", reply.Message)
			if reply.Poll == "" {
				return errors.New("agentgate answered 202 without a poll location")
			}
			path, method = reply.Poll, http.MethodGet
		default:
			msg := fmt.Sprintf("agentgate answered %d", status)
			if reply.Error != nil {
				msg += ": " + reply.Error.Message
			}
			return errors.New(msg)
		}
		select {
		case <-ctx.Done():
			return &gateExit{code: exitTimeout, msg: "gave up waiting for a human approval"}
		case <-time.After(poll):
		}
		reply, status, err = g.ask(ctx, method, path)
	}
}

// describe says why there is no answer yet: the server's own reason when
// it gave one (a store outage says the decision was not recorded).
func describe(reply gateReply, err error, status int) string {
	switch {
	case err != nil:
		return fmt.Sprintf("not reachable (%s)", err)
	case reply.Error != nil && reply.Error.Message != "":
		return fmt.Sprintf("no answer (status %d): %s", status, reply.Error.Message)
	}
	return fmt.Sprintf("not reachable (status %d)", status)
}

func (g gateClient) ask(ctx context.Context, method, path string) (gateReply, int, error) {
	var r gateReply
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, nil)
	if err != nil {
		return r, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	for k, v := range g.headers {
		req.Header.Set(k, v)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return r, 0, fmt.Errorf("ask agentgate: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return r, resp.StatusCode, fmt.Errorf("agentgate answered %d with a body that is not JSON: %w", resp.StatusCode, err)
	}
	return r, resp.StatusCode, nil
}

func suffixMsg(m string) string {
	if m == "" {
		return ""
	}
	return ": " + m
}
