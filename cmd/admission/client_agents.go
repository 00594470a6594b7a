package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/agentfile"
	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/client"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

// agentsCmd is `admission agents ...`: the agent registry.
func (a *app) agentsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "agents",
		Aliases: []string{"agent"},
		Short:   "List, provision and manage registered agents",
	}
	cmd.AddCommand(a.agentsListCmd(), a.agentsGetCmd(), a.agentsCreateCmd(), a.agentsUpdateCmd(),
		a.agentsTierCmd("promote"), a.agentsTierCmd("demote"),
		a.agentsLifecycleCmd("suspend", "Suspend an active agent until it is resumed", (*client.Client).Suspend),
		a.agentsLifecycleCmd("resume", "Return a suspended or killed agent to active", (*client.Client).Resume),
		a.agentsKillCmd(),
		a.agentsLifecycleCmd("decommission", "Retire an agent for good (its tokens stop working)", (*client.Client).Decommission),
		a.agentsRotateCmd(), a.agentsRecordCmd())
	return cmd
}

func (a *app) agentsListCmd() *cobra.Command {
	var f store.AgentFilter
	var state, tier string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List agents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			f.State, f.Tier = agents.State(state), agents.Tier(tier)
			list, err := s.api.ListAgents(cmd.Context(), f)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(list)
			}
			return s.out.agentRows(list)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Owner, "owner", "", "only agents of this owner")
	fl.StringVar(&f.Type, "type", "", "only agents of this type (coding, testing, deployment, ...)")
	fl.StringVar(&state, "state", "", "only agents in this state (active, suspended, killed, decommissioned)")
	fl.StringVar(&tier, "tier", "", "only agents in this tier (new, established, trusted)")
	return cmd
}

func (a *app) agentsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID|NAME",
		Short: "Show one agent (-o yaml: as an Agent document for admission apply)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asYAML := a.output == outputYAML
			s, err := a.sessionAs(cmd, asYAML)
			if err != nil {
				return err
			}
			ag, err := s.api.GetAgent(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asYAML {
				return agentfile.Write(cmd.OutOrStdout(), []agentfile.Document{agentfile.FromAgent(ag)})
			}
			if s.out.json {
				return s.out.JSON(ag)
			}
			return s.out.agentFields(ag)
		},
	}
}

// agentFlags are the descriptive fields shared by create and update.
type agentFlags struct {
	owner        string
	capabilities []string
	environments []string
	namespaces   []string
	principals   []string
	labels       map[string]string
	expires      string
}

// register adds the flags; update marks the list flags as replacing.
func (f *agentFlags) register(cmd *cobra.Command, update bool) {
	many := "(repeatable or comma-separated)"
	if update {
		many = "(replaces the list; repeatable or comma-separated)"
	}
	fl := cmd.Flags()
	fl.StringVar(&f.owner, "owner", "", "accountable human or team")
	fl.StringSliceVar(&f.capabilities, "capability", nil, "capability granted to the agent "+many)
	fl.StringSliceVar(&f.environments, "env", nil, "environment the agent may change "+many)
	fl.StringSliceVar(&f.namespaces, "namespace", nil, "namespace the agent may change "+many)
	fl.StringSliceVar(&f.principals, "principal", nil, "provider principal the agent acts as, e.g. github:octo-bot[bot] "+many)
	fl.StringToStringVar(&f.labels, "label", nil, "label key=value "+strings.Replace(many, "the list", "all labels", 1))
	fl.StringVar(&f.expires, "expires", "", "expiry: RFC 3339 time, date, or duration from now such as 720h")
}

func (a *app) agentsCreateCmd() *cobra.Command {
	var f agentFlags
	var spec registry.Spec
	var tier string
	cmd := &cobra.Command{
		Use:   "create --name NAME --type TYPE --owner OWNER",
		Short: "Provision an agent and print its one-time API token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			exp, err := optionalTimeFlag("expires", f.expires, time.Now(), +1)
			if err != nil {
				return err
			}
			if !exp.IsZero() {
				spec.ExpiresAt = &exp
			}
			spec.Owner, spec.Tier, spec.Labels = f.owner, agents.Tier(tier), f.labels
			spec.Capabilities, spec.Environments = f.capabilities, f.environments
			spec.Namespaces, spec.Principals = f.namespaces, f.principals
			created, err := s.api.CreateAgent(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if s.out.json {
				s.out.Notef("note: the token in this output is shown only once; store it now")
				return s.out.JSON(created)
			}
			if err := s.out.agentFields(created.Agent); err != nil {
				return err
			}
			return s.out.Linef("\nToken: %s\nThis token is shown only once: store it now (the server keeps only its hash).", created.Token)
		},
	}
	cmd.Flags().StringVar(&spec.Name, "name", "", "agent name (lowercase letters, digits, '.', '_', '-')")
	cmd.Flags().StringVar(&spec.Type, "type", "", "agent type (coding, testing, deployment, data-pipeline, ...)")
	cmd.Flags().StringVar(&tier, "tier", "", "initial trust tier (default new)")
	f.register(cmd, false)
	for _, name := range []string{"name", "type", "owner"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func (a *app) agentsUpdateCmd() *cobra.Command {
	var f agentFlags
	var clearExpiry bool
	var ifVersion int64
	cmd := &cobra.Command{
		Use:   "update ID|NAME",
		Short: "Change an agent's descriptive fields (only the flags given are sent)",
		Long: `Change an agent's descriptive fields. Only the flags given are sent; a
list flag replaces the whole list (pass an empty value, --env "", to clear it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.patch(cmd, clearExpiry, ifVersion)
			if err != nil {
				return err
			}
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ag, err := s.api.UpdateAgent(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(ag)
			}
			return s.out.agentFields(ag)
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&clearExpiry, "clear-expiry", false, "remove the agent's expiry")
	cmd.Flags().Int64Var(&ifVersion, "if-version", 0, "fail unless the agent is at this version (optimistic locking)")
	cmd.MarkFlagsMutuallyExclusive("expires", "clear-expiry")
	return cmd
}

// patch builds a Patch from the flags that were set.
func (f *agentFlags) patch(cmd *cobra.Command, clearExpiry bool, ifVersion int64) (registry.Patch, error) {
	var p registry.Patch
	changed := cmd.Flags().Changed
	if changed("owner") {
		p.Owner = &f.owner
	}
	lists := []struct {
		flag string
		src  *[]string
		dst  **[]string
	}{
		{"capability", &f.capabilities, &p.Capabilities},
		{"env", &f.environments, &p.Environments},
		{"namespace", &f.namespaces, &p.Namespaces},
		{"principal", &f.principals, &p.Principals},
	}
	for _, l := range lists {
		if changed(l.flag) {
			*l.dst = l.src
		}
	}
	if changed("label") {
		p.Labels = &f.labels
	}
	if changed("expires") {
		exp, err := parseWhenFlag("expires", f.expires, time.Now(), +1)
		if err != nil {
			return p, err
		}
		p.ExpiresAt = &exp
	}
	p.ClearExpiry = clearExpiry
	p.Version = ifVersion
	if p.Owner == nil && p.Capabilities == nil && p.Environments == nil && p.Namespaces == nil &&
		p.Principals == nil && p.Labels == nil && p.ExpiresAt == nil && !p.ClearExpiry {
		return p, errors.New("nothing to update: give at least one of --owner, --capability, --env, --namespace, --principal, --label, --expires, --clear-expiry")
	}
	return p, nil
}

// agentsTierCmd is promote or demote.
func (a *app) agentsTierCmd(verb string) *cobra.Command {
	var reason, to string
	dir := map[string]string{"promote": "up", "demote": "down"}[verb]
	cmd := &cobra.Command{
		Use:   verb + " ID|NAME --reason REASON",
		Short: "Move an agent one trust tier " + dir + " (or to --to)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to != "" && agents.Tier(to).Rank() < 0 {
				return fmt.Errorf("--to %q: use one of %s", to, tierNames())
			}
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			op := s.api.Promote
			if verb == "demote" {
				op = s.api.Demote
			}
			ag, err := op(cmd.Context(), args[0], agents.Tier(to), reason)
			if err != nil {
				return err
			}
			return s.agentResult(ag)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the tier changes (required; recorded in the audit log)")
	cmd.Flags().StringVar(&to, "to", "", "target tier ("+tierNames()+"); default one step "+dir)
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func tierNames() string {
	names := make([]string, 0, len(agents.Tiers()))
	for _, t := range agents.Tiers() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// lifecycleOp is a client method that changes an agent's state.
type lifecycleOp func(c *client.Client, ctx context.Context, idOrName, reason string) (agents.Agent, error)

// agentsLifecycleCmd is suspend, resume or decommission.
func (a *app) agentsLifecycleCmd(verb, short string, op lifecycleOp) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   verb + " ID|NAME [--reason REASON]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ag, err := op(s.api, cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return s.agentResult(ag)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return cmd
}

func (a *app) agentsKillCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "kill ID|NAME --reason REASON",
		Short: "Engage the agent's kill switch: every change it drives is denied at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ks, err := s.api.Kill(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return s.killSwitchResult(ks)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the agent is stopped (required)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func (a *app) agentsRotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate ID|NAME",
		Short: "Issue a new API token for an agent (the old one works for a grace period)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			rot, err := s.api.RotateToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if s.out.json {
				s.out.Notef("note: the token in this output is shown only once; store it now")
				return s.out.JSON(rot)
			}
			if err := s.out.Fields([][2]string{{"Token", rot.Token}, {"Old token valid until", showTime(rot.OldValidUntil)}}); err != nil {
				return err
			}
			return s.out.Linef("This token is shown only once: store it now (the server keeps only its hash).")
		},
	}
}

// agentResult prints an agent returned by a lifecycle operation.
func (s *session) agentResult(ag agents.Agent) error {
	if s.out.json {
		return s.out.JSON(ag)
	}
	return s.out.agentRows([]agents.Agent{ag})
}
