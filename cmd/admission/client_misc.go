package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/client"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/store"
)

// approvalsCmd is `admission approvals ...`.
func (a *app) approvalsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "approvals",
		Aliases: []string{"approval"},
		Short:   "List and show human approvals of agent changes",
	}
	var f store.ApprovalFilter
	var state string
	list := &cobra.Command{
		Use:   "list [--state pending]",
		Short: "List approvals, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			f.State = store.ApprovalState(state)
			if f.AgentID != "" {
				// A name or an id: the API filters by id.
				ag, err := s.api.GetAgent(cmd.Context(), f.AgentID)
				if err != nil {
					return fmt.Errorf("--agent: %w", err)
				}
				f.AgentID = ag.ID
			}
			list, err := s.api.ListApprovals(cmd.Context(), f)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(list)
			}
			name := s.agentName(cmd.Context())
			rows := make([][]string, len(list))
			for i, ap := range list {
				state := string(ap.State)
				if ap.UsedAt != nil {
					state += " (used)" // an approved resubmission was admitted with it
				}
				rows[i] = []string{ap.ID, state, name(ap.AgentID), ap.Owner, ap.Repo, ap.Environment, showTime(ap.ExpiresAt), ap.Reason}
			}
			return s.out.Table([]string{"ID", "STATE", "AGENT", "OWNER", "REPO", "ENVIRONMENT", "EXPIRES", "REASON"}, rows)
		},
	}
	list.Flags().StringVar(&state, "state", "", "only approvals in this state (pending, approved, rejected, expired, cancelled)")
	list.Flags().StringVar(&f.AgentID, "agent", "", "only approvals of this agent (id or name)")
	list.Flags().StringVar(&f.Owner, "owner", "", "only approvals of this owner")
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show one approval",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ap, err := s.api.GetApproval(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(ap)
			}
			ev := ap.Event
			return s.out.Fields([][2]string{
				{"ID", ap.ID}, {"State", string(ap.State)}, {"Agent", agentWithID(s.agentName(cmd.Context())(ap.AgentID), ap.AgentID)}, {"Owner", ap.Owner},
				{"Provider", ap.Provider}, {"Repo", ap.Repo}, {"SHA", ap.SHA}, {"Environment", ap.Environment},
				{"Event", strings.Join([]string{string(ev.Kind), ev.Action, ev.Principal}, " ")},
				{"Reason", ap.Reason}, {"Approvers", showList(ap.Approvers)},
				{"Decision", strconv.FormatInt(ap.DecisionSeq, 10)},
				{"Created", showTime(ap.CreatedAt)}, {"Expires", showTime(ap.ExpiresAt)},
				{"Resolved", strings.TrimSpace(showTimePtr(ap.ResolvedAt) + " " + ap.ResolvedBy)}, {"Note", ap.ResolvedNote},
			})
		},
	}
	cmd.AddCommand(list, get, a.resolveCmd(true), a.resolveCmd(false))
	return cmd
}

// resolveCmd is approvals approve|reject.
func (a *app) resolveCmd(approve bool) *cobra.Command {
	verb, short := "reject", "Reject a held change (a reason is required)"
	if approve {
		verb, short = "approve", "Approve a held change, releasing it to the CI system"
	}
	var reason string
	cmd := &cobra.Command{
		Use:   verb + " ID [--reason R]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			ap, err := s.api.ResolveApproval(cmd.Context(), args[0], approve, reason)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(ap)
			}
			return s.out.Linef("approval %s %s by %s", ap.ID, ap.State, ap.ResolvedBy)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (shown to the CI system; required to reject)")
	return cmd
}

func (a *app) costsCmd() *cobra.Command {
	var by, from, to string
	cmd := &cobra.Command{
		Use:   "costs [--by agent|owner|type] [--from T] [--to T]",
		Short: "Sum the cost ledger (default: by agent over the last 30 days)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch store.CostGroup(by) {
			case "", store.CostByAgent, store.CostByOwner, store.CostByType:
			default:
				return fmt.Errorf("--by %q: use agent, owner or type", by)
			}
			now := time.Now()
			f, err := optionalTimeFlag("from", from, now, -1)
			if err != nil {
				return err
			}
			t, err := optionalTimeFlag("to", to, now, -1)
			if err != nil {
				return err
			}
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			r, err := s.api.Costs(cmd.Context(), store.CostGroup(by), f, t)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(r)
			}
			if err := s.out.Linef("Costs by %s from %s to %s\n", r.By, showTime(r.From), showTime(r.To)); err != nil {
				return err
			}
			key := func(k string) string { return k }
			if r.By == store.CostByAgent {
				key = s.agentName(cmd.Context())
			}
			rows := make([][]string, len(r.Items))
			for i, c := range r.Items {
				rows[i] = []string{key(c.Key), strconv.FormatFloat(c.Minutes, 'f', 1, 64), strconv.FormatFloat(c.Amount, 'f', 2, 64),
					c.Currency, strconv.FormatInt(c.Entries, 10)}
			}
			return s.out.Table([]string{strings.ToUpper(string(r.By)), "MINUTES", "AMOUNT", "CURRENCY", "ENTRIES"}, rows)
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "group by agent, owner or type (default agent)")
	cmd.Flags().StringVar(&from, "from", "", "period start: RFC 3339 time, date, or duration ago such as 168h")
	cmd.Flags().StringVar(&to, "to", "", "period end: RFC 3339 time, date, or duration ago (default now)")
	return cmd
}

func (a *app) evaluateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "evaluate -f EVENT.json",
		Short: "Show the decision the gate would make on a normalized event (a dry run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ev, err := readEvent(cmd.InOrStdin(), file)
			if err != nil {
				return err
			}
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			evals, err := s.api.Evaluate(cmd.Context(), ev)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(evals)
			}
			return s.out.evaluations(evals)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the event as JSON (- for standard input)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// readEvent reads a normalized event strictly, so that a misspelt field
// is reported here rather than silently dropped.
func readEvent(stdin io.Reader, file string) (event.Event, error) {
	var ev event.Event
	var raw []byte
	var err error
	if file == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		return ev, fmt.Errorf("read event: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, fmt.Errorf("%s is not a normalized event: %w", file, err)
	}
	if dec.More() {
		return ev, fmt.Errorf("%s: unexpected data after the event", file)
	}
	return ev, nil
}

// evaluations prints each event's decision with one row per reason.
func (p *printer) evaluations(evals []client.Evaluation) error {
	for i, e := range evals {
		if i > 0 {
			if err := p.Linef(""); err != nil {
				return err
			}
		}
		ev, res := e.Event, e.Result
		agent := "not a registered agent"
		if res.Agent != nil {
			agent = fmt.Sprintf("%s (%s, %s, tier %s, owner %s)", res.Agent.Name, res.Agent.ID, res.Agent.Type, res.Agent.Tier, res.Agent.Owner)
		} else if res.Unregistered {
			agent = "unregistered machine actor"
		}
		pairs := [][2]string{
			{"Event", strings.Join([]string{ev.Provider, string(ev.Kind), ev.Action, ev.Repo, ev.Environment}, " ")},
			{"Principal", ev.Principal}, {"Agent", agent},
			{"Enforcement", string(res.Enforcement)}, {"Policy revision", res.PolicyRevision},
		}
		if ap := res.Approval; ap != nil {
			pairs = append(pairs, [2]string{"Approval", fmt.Sprintf("%s by %s before %s", ap.ID, showList(ap.Approvers), showTime(ap.ExpiresAt))})
		}
		if err := p.Fields(pairs); err != nil {
			return err
		}
		rows := [][]string{}
		for _, r := range res.Reasons {
			rows = append(rows, []string{string(res.Outcome), string(res.Effective), r.Rule, r.Message})
		}
		for _, w := range res.Warnings {
			rows = append(rows, []string{"warning", string(res.Effective), w.Rule, w.Message})
		}
		if len(rows) == 0 {
			rows = append(rows, []string{string(res.Outcome), string(res.Effective), "", ""})
		}
		if err := p.Linef(""); err != nil {
			return err
		}
		if err := p.Table([]string{"OUTCOME", "EFFECTIVE", "RULE", "MESSAGE"}, rows); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) meCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "me",
		Short: "Show the calling agent, its quota use and any kill switch (needs an agent token)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			st, err := s.api.Me(cmd.Context())
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(st)
			}
			if err := s.out.agentFields(st.Agent); err != nil {
				return err
			}
			ks := "none"
			if k := st.KillSwitch; k != nil {
				ks = fmt.Sprintf("ENGAGED (%s %s) by %s at %s: %s", k.Scope, k.Target, k.EngagedBy, showTime(k.EngagedAt), k.Reason)
			}
			if err := s.out.Linef("Kill switch:  %s", ks); err != nil {
				return err
			}
			if len(st.Quotas) == 0 {
				return s.out.Linef("Quotas:       none charged yet")
			}
			if err := s.out.Linef(""); err != nil {
				return err
			}
			rows := make([][]string, len(st.Quotas))
			for i, q := range st.Quotas {
				kind, window := "rate", q.Window.String()
				if q.Concurrency {
					kind, window = "concurrency", ""
				}
				rows[i] = []string{q.Name, kind, strconv.FormatInt(q.Used, 10), strconv.FormatInt(q.Limit, 10), window}
			}
			return s.out.Table([]string{"QUOTA", "KIND", "USED", "LIMIT", "WINDOW"}, rows)
		},
	}
}
