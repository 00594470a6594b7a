package main

import (
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
	cmd.AddCommand(get)
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
