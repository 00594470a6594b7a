package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// agentsRecordCmd is `admission agents record NAME`: the track record the
// promotion job sees and what the policy says of it now.
func (a *app) agentsRecordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "record NAME",
		Short: "Show an agent's track record and whether the policy would promote it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			rec, err := s.api.AgentRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(rec)
			}
			r := rec.Record
			since := func(d int) string {
				if d < 0 {
					return "never"
				}
				return fmt.Sprintf("%d days ago", d)
			}
			fields := [][2]string{
				{"Agent", rec.Agent.Name}, {"Type", rec.Agent.Type}, {"Tier", string(rec.Agent.Tier)}, {"State", string(rec.Agent.State)},
				{"Window", fmt.Sprintf("last %d days", r.Days)},
				{"Decisions", fmt.Sprintf("%d (%d allowed, %d denied, %d held)", r.Decisions, r.Allowed, r.Denied, r.Held)},
				{"Kill switches", fmt.Sprintf("%d in the window, last %s", r.Kills, since(r.DaysSinceKill))},
				{"Rollbacks", fmt.Sprintf("%d in the window, last %s", r.Rollbacks, since(r.DaysSinceRollback))},
				{"Last tier change", since(r.DaysSinceTierChange)},
				{"Age", fmt.Sprintf("%d days", r.AgeDays)},
				{"Promotion mode", rec.Mode},
			}
			switch as := rec.Assessment; {
			case as != nil && as.Eligible:
				fields = append(fields, [2]string{"Assessment", "eligible for " + string(as.To)})
			case as != nil:
				fields = append(fields, [2]string{"Assessment", "not eligible: " + strings.Join(as.Reasons, "; ")})
			default:
				fields = append(fields, [2]string{"Assessment", rec.AssessmentError})
			}
			if as := rec.Assessment; as != nil {
				for _, c := range as.Criteria {
					mark := "not met: "
					if c.Met {
						mark = "met: "
					}
					fields = append(fields, [2]string{"  " + c.Name, mark + c.Message})
				}
			}
			if p := rec.Pending; p != nil {
				fields = append(fields, [2]string{"Pending proposal", fmt.Sprintf("%s (%s to %s, %s)", p.ID, p.FromTier, p.ToTier, showTime(p.CreatedAt))})
			}
			return s.out.Fields(fields)
		},
	}
}

// promotionsCmd is `admission promotions list|confirm|refuse`.
func (a *app) promotionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "promotions",
		Aliases: []string{"promotion"},
		Short:   "List, confirm and refuse promotions proposed from agents' track records",
	}
	var state, agent string
	var limit int
	list := &cobra.Command{
		Use:   "list [--state pending] [--agent NAME]",
		Short: "List promotion proposals, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			list, err := s.api.ListPromotions(cmd.Context(), state, agent, limit)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(list)
			}
			rows := make([][]string, len(list))
			for i, p := range list {
				rows[i] = []string{p.ID, string(p.State), p.AgentName, p.Owner, string(p.FromTier) + " -> " + string(p.ToTier),
					showTime(p.CreatedAt), strings.TrimSpace(p.ResolvedBy + " " + p.Note)}
			}
			return s.out.Table([]string{"ID", "STATE", "AGENT", "OWNER", "TIER", "PROPOSED", "DECIDED"}, rows)
		},
	}
	list.Flags().StringVar(&state, "state", "", "only proposals in this state (pending, applied, refused, withdrawn)")
	list.Flags().StringVar(&agent, "agent", "", "only proposals of this agent (name or id)")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100, at most 1000)")
	cmd.AddCommand(list, a.decidePromotionCmd(true), a.decidePromotionCmd(false))
	return cmd
}

func (a *app) decidePromotionCmd(confirm bool) *cobra.Command {
	verb, short, flag, help := "refuse", "Refuse a proposed promotion (a reason is required)", "reason", "why (required; audited)"
	if confirm {
		verb, short, flag, help = "confirm", "Confirm a proposed promotion: the agent moves up a tier", "note", "a note for the audit log"
	}
	var text string
	cmd := &cobra.Command{
		Use:   verb + " ID [--" + flag + " TEXT]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			p, err := s.api.DecidePromotion(cmd.Context(), args[0], confirm, text)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(p)
			}
			return s.out.Linef("promotion %s of %s (%s to %s) %s by %s", p.ID, p.AgentName, p.FromTier, p.ToTier, p.State, p.ResolvedBy)
		},
	}
	cmd.Flags().StringVar(&text, flag, "", help)
	return cmd
}
