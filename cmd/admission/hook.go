package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/providers/argo"
)

func (a *app) hookCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "Run inside CI hooks (the Argo CD PreSync and PostSync hook Jobs)",
	}
	cmd.AddCommand(a.hookPhaseCmd("presync"), a.hookPhaseCmd("postsync"))
	return cmd
}

// hookPhaseCmd is admission hook presync|postsync.
func (a *app) hookPhaseCmd(phase string) *cobra.Command {
	var (
		app, tokenEnv string
		poll, wait    time.Duration
	)
	short := "Ask agentgate whether this Argo CD sync may proceed, and wait for the answer"
	if phase == "postsync" {
		short = "Tell agentgate this Argo CD sync succeeded (deployment history for rollbacks)"
	}
	cmd := &cobra.Command{
		Use:   phase + " --app [NAMESPACE/]APP",
		Short: short,
		Long: short + `.

Runs in a hook Job of the Application (see deploy/argocd/). It calls
POST <server>/argo/presync with the hook token (Authorization: Bearer) and
the Application's name (X-Agentgate-Application); agentgate reads the
Application from Argo CD to learn who started the sync, and decides.
Exit status: 0 allowed (or approved), 1 refused (or rejected, expired,
cancelled), 3 still waiting when --wait runs out. While a human approval is
pending it polls every --poll.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(app) == "" {
				return fmt.Errorf("--app is required (the Argo CD Application, [namespace/]name)")
			}
			token, ok := a.env(tokenEnv)
			if !ok || strings.TrimSpace(token) == "" {
				return fmt.Errorf("no hook token in $%s", tokenEnv)
			}
			g := gateClient{base: strings.TrimRight(a.server, "/"), token: strings.TrimSpace(token), out: cmd.OutOrStdout(),
				hc:      &http.Client{Timeout: 30 * time.Second},
				headers: map[string]string{argo.HeaderApplication: app, argo.HeaderPhase: phase}}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			return g.run(ctx, "/argo/presync", poll)
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "the Argo CD Application, [namespace/]name")
	f.StringVar(&tokenEnv, "token-env", "AGENTGATE_HOOK_TOKEN", "environment variable holding the hook token (argo.hook_token)")
	f.DurationVar(&poll, "poll", 10*time.Second, "how often to ask while an approval is pending")
	f.DurationVar(&wait, "wait", 4*time.Hour, "how long to wait for a human before giving up (exit 3)")
	return cmd
}
