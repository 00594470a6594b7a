package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

// killSwitchCmd is `admission killswitch ...`.
func (a *app) killSwitchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "killswitch",
		Aliases: []string{"killswitches", "ks"},
		Short:   "List, engage and release kill switches",
	}
	cmd.AddCommand(a.killSwitchListCmd(), a.killSwitchGetCmd(), a.killSwitchEngageCmd(), a.killSwitchReleaseCmd())
	return cmd
}

func (a *app) killSwitchListCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "List engaged kill switches (--all: released ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			list, err := s.api.ListKillSwitches(cmd.Context(), all)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(list)
			}
			return s.out.killSwitchRows(list, s.agentName(cmd.Context()))
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include released kill switches")
	return cmd
}

func (a *app) killSwitchGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one kill switch",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ks, err := s.api.GetKillSwitch(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return s.killSwitchResult(ks)
		},
	}
}

func (a *app) killSwitchEngageCmd() *cobra.Command {
	var scope string
	var r registry.KillRequest
	cmd := &cobra.Command{
		Use:   "engage --scope agent|owner|global [--target T] --reason R",
		Short: "Stop every agent-driven change for one agent, one owner, or everyone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch store.KillScope(scope) {
			case store.ScopeAgent, store.ScopeOwner:
				if r.Target == "" {
					return fmt.Errorf("--target is required for scope %s (the agent id or name, or the owner)", scope)
				}
			case store.ScopeGlobal:
				if r.Target != "" {
					return errors.New("a global kill switch takes no --target")
				}
			default:
				return fmt.Errorf("--scope %q: use agent, owner or global", scope)
			}
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			r.Scope = store.KillScope(scope)
			ks, err := s.api.EngageKillSwitch(cmd.Context(), r)
			if err != nil {
				return err
			}
			return s.killSwitchResult(ks)
		},
	}
	cmd.Flags().StringVar(&scope, "scope", "", "what to stop: agent, owner or global")
	cmd.Flags().StringVar(&r.Target, "target", "", "agent id or name (scope agent) or owner (scope owner)")
	cmd.Flags().StringVar(&r.Reason, "reason", "", "why (required; recorded in the audit log)")
	_ = cmd.MarkFlagRequired("scope")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func (a *app) killSwitchReleaseCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "release ID [--reason R]",
		Short: "Release a kill switch (a killed agent returns to active)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ks, err := s.api.ReleaseKillSwitch(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return s.killSwitchResult(ks)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return cmd
}

func (s *session) killSwitchResult(ks store.KillSwitch) error {
	if s.out.json {
		return s.out.JSON(ks)
	}
	return s.out.killSwitchRows([]store.KillSwitch{ks}, s.agentName(context.Background()))
}
