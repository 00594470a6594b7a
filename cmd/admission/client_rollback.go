package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/client"
	"github.com/agentgate/agentgate/internal/rollback"
)

// rollbackCmd is admission rollback (start) and rollback get.
func (a *app) rollbackCmd() *cobra.Command {
	var r client.RollbackRequest
	cmd := &cobra.Command{
		Use:   "rollback --provider P (--repo R | --app A) --environment E --reason R [--to previous|SHA]",
		Short: "Roll a target back to its previous (or a given) successful deployment",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			rb, err := s.api.CreateRollback(cmd.Context(), r)
			if err != nil {
				return err
			}
			return printRollback(s.out, rb)
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.Provider, "provider", "", "github, gitlab or argo")
	f.StringVar(&r.Repo, "repo", "", "repository or project as deployments record it (owner/name)")
	f.StringVar(&r.App, "app", "", "Argo CD application")
	f.StringVar(&r.Environment, "environment", "", "environment to roll back")
	f.StringVar(&r.Namespace, "namespace", "", "namespace (for the watch query and Argo CD)")
	f.StringVar(&r.To, "to", rollback.ToPrevious, "previous, or the sha of an earlier successful deployment")
	f.StringVar(&r.Reason, "reason", "", "why (required; audited)")
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a rollback's progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			rb, err := s.api.GetRollback(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printRollback(s.out, rb)
		},
	}
	cmd.AddCommand(get, a.rollbackListCmd(), a.rollbackWatchesCmd())
	return cmd
}

// rollbackListCmd is admission rollback list: the rollbacks, newest first.
func (a *app) rollbackListCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--limit N]",
		Short: "List the rollbacks, newest first, whoever or whatever asked for them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			rbs, err := s.api.Rollbacks(cmd.Context(), limit)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(rbs)
			}
			rows := make([][]string, 0, len(rbs))
			for _, rb := range rbs {
				target := rb.Target.Repo
				if target == "" {
					target = rb.Target.App
				}
				by := rb.RequestedBy
				if by == "" {
					by = rb.Target.Source
				}
				rows = append(rows, []string{rb.ID, showTime(rb.CreatedAt), rb.Target.Provider, target, rb.Target.Environment,
					short(rb.FromSHA), short(rb.To.SHA), string(rb.State), by, rb.Reason})
			}
			return s.out.Table([]string{"ID", "CREATED", "PROVIDER", "TARGET", "ENVIRONMENT", "FROM", "TO", "STATE", "BY", "REASON"}, rows)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100, at most 1000)")
	return cmd
}

// rollbackWatchesCmd is admission rollback watches: what is watched after
// agent deploys, by which query, and when it is next read.
func (a *app) rollbackWatchesCmd() *cobra.Command {
	var all bool
	var limit int
	cmd := &cobra.Command{
		Use:   "watches [--all] [--limit N]",
		Short: "List the error-rate watches of agent deployments (live ones unless --all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ws, err := s.api.Watches(cmd.Context(), all, limit)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(ws)
			}
			rows := make([][]string, 0, len(ws))
			for _, w := range ws {
				agent := w.Agent
				if agent == "" {
					agent = w.AgentID
				}
				next := "-"
				if w.NextCheck != nil {
					next = showTime(*w.NextCheck)
				}
				last := "-"
				if r := w.LastReading; r != nil && r.HasData {
					last = strconv.FormatFloat(r.Value, 'g', 4, 64)
				} else if r != nil {
					last = "no data"
				}
				rows = append(rows, []string{w.Repo, w.Environment, short(w.SHA), agent, string(w.State),
					fmt.Sprintf("%d/%d", w.Breaches, w.TripAfter), last, w.Interval, next, w.Query})
			}
			return s.out.Table([]string{"REPO", "ENVIRONMENT", "SHA", "AGENT", "STATE", "BREACHES", "LAST", "EVERY", "NEXT CHECK", "QUERY"}, rows)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include ended watches (passed, rolled back, failed)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100, at most 1000)")
	return cmd
}

func printRollback(p *printer, rb rollback.Rollback) error {
	if p.json {
		return p.JSON(rb)
	}
	return p.Fields([][2]string{
		{"ID", rb.ID}, {"State", string(rb.State)}, {"Target", rb.Target.Provider + " " + rb.Target.Repo + " " + rb.Target.Environment},
		{"From", rb.FromSHA}, {"To", rb.To.SHA}, {"Method", rb.Result.Method}, {"Ref", rb.Result.Ref},
		{"Reason", rb.Reason}, {"Error", rb.Error}, {"Created", showTime(rb.CreatedAt)},
	})
}

// short abbreviates a commit sha to 12 characters.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
