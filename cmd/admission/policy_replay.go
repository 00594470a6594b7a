package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/client"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/replay"
)

// policyReplayCmd is `admission policy replay`: a candidate policy set
// evaluated on the inputs of recorded decisions, here, and what would
// have changed.
func (a *app) policyReplayCmd() *cobra.Command {
	var dir, since, from, to string
	var max, examples int
	cmd := &cobra.Command{
		Use:   "replay --policy-dir DIR [--since 7d | --from T [--to T]] [--max N] [--examples N]",
		Short: "Re-evaluate recorded decisions with a candidate policy set and report what would change",
		Long: `Stream the policy inputs of the decisions made in a window from the server
(GET /api/v1/policy/inputs, role viewer), evaluate each with the candidate
policy set on this machine, and report what would have changed against the
decision recorded: counts by outcome change ("allow -> deny"), rules that
would newly deny or no longer deny, and examples. The comparison is of the
policy's own decision, before kill switches and quotas. Nothing is changed
on the server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := inputsWindow(since, from, to, max)
			if err != nil {
				return err
			}
			fsys, source, err := policySet(dir)
			if err != nil {
				return err
			}
			// The candidate's own Rego tests run, as a reload would.
			eng, err := policy.New(cmd.Context(), policy.Options{FS: fsys, Source: source})
			if err != nil {
				return fmt.Errorf("load %s policies: %w", source, err)
			}
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			rep := replay.NewReport(examples)
			_, more, err := s.api.ScanInputs(cmd.Context(), q, func(rec replay.Recorded) error {
				res, err := eng.Evaluate(cmd.Context(), rec.Input)
				rep.Add(rec, replay.Summarize(res.Decision), err)
				return nil
			})
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(struct {
					*replay.Report
					Candidate string `json:"candidate_revision"`
					More      bool   `json:"more"`
				}{rep, eng.Revision(), more})
			}
			return printReplay(s.out, rep, eng.Revision(), more)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "policy-dir", "", "the candidate policy directory (default: the built-in policies)")
	f.StringVar(&since, "since", "", "replay the decisions of this long ago until now (7d, 36h)")
	f.StringVar(&from, "from", "", "replay from this time (RFC 3339, a date, or a duration ago)")
	f.StringVar(&to, "to", "", "replay until this time (default: now)")
	f.IntVar(&max, "max", 0, "at most this many decisions (server default 100000, at most 1000000)")
	f.IntVar(&examples, "examples", 3, "examples to show per change")
	_ = cmd.MarkFlagRequired("policy-dir")
	return cmd
}

// inputsWindow reads the --since, --from and --to flags of replay and
// shadow-report.
func inputsWindow(since, from, to string, max int) (client.InputsQuery, error) {
	now := time.Now()
	q := client.InputsQuery{Max: max}
	var err error
	switch {
	case since != "" && from != "":
		return q, fmt.Errorf("give --since or --from, not both")
	case since != "":
		d, err := parseDays(since)
		if err != nil {
			return q, fmt.Errorf("--since: %w", err)
		}
		q.From = now.Add(-d).UTC().Truncate(time.Second)
	default:
		if q.From, err = optionalTimeFlag("from", from, now, -1); err != nil {
			return q, err
		}
	}
	if q.To, err = optionalTimeFlag("to", to, now, -1); err != nil {
		return q, err
	}
	return q, nil
}

// parseDays reads a Go duration or a whole number of days ("7d").
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("%q: give whole days (7d) or a duration (36h)", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: give whole days (7d) or a duration (36h)", v)
	}
	return d, nil
}

func printReplay(p *printer, r *replay.Report, candidate string, more bool) error {
	if r.Decisions == 0 {
		return p.Linef("no recorded decisions in the window (is policy.record_inputs on?)")
	}
	revs := make([]string, 0, len(r.Revisions))
	for rev, n := range r.Revisions {
		revs = append(revs, fmt.Sprintf("%s (%d)", rev, n))
	}
	sort.Strings(revs)
	if err := p.Fields([][2]string{
		{"Candidate", candidate}, {"Recorded with", strings.Join(revs, ", ")},
		{"Window", showTime(r.From) + " to " + showTime(r.To)},
		{"Decisions", strconv.Itoa(r.Decisions)},
		{"Would change", fmt.Sprintf("%d (%.1f%%)", r.Changed, 100*float64(r.Changed)/float64(r.Decisions))},
		{"Could not evaluate", strconv.Itoa(r.Errors)},
	}); err != nil {
		return err
	}
	if more {
		if err := p.Linef("(stopped at --max: later decisions were not replayed)"); err != nil {
			return err
		}
	}
	if len(r.Transitions) > 0 {
		rows := [][]string{}
		for _, k := range r.SortedTransitions() {
			rows = append(rows, []string{k, strconv.Itoa(r.Transitions[k])})
		}
		if err := p.Linef(""); err != nil {
			return err
		}
		if err := p.Table([]string{"CHANGE", "DECISIONS"}, rows); err != nil {
			return err
		}
	}
	if len(r.Rules) > 0 {
		ids := make([]string, 0, len(r.Rules))
		for id := range r.Rules {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		rows := [][]string{}
		for _, id := range ids {
			c := r.Rules[id]
			rows = append(rows, []string{id, strconv.Itoa(c.Added), strconv.Itoa(c.Removed)})
		}
		if err := p.Linef(""); err != nil {
			return err
		}
		if err := p.Table([]string{"RULE", "NEWLY DENIES", "NO LONGER DENIES"}, rows); err != nil {
			return err
		}
	}
	if len(r.Examples) > 0 {
		rows := [][]string{}
		for _, e := range r.Examples {
			who := e.Agent
			if who == "" {
				who = e.Principal
			}
			why := strings.Join(e.Now.Deny, ",")
			if e.Error != "" {
				why = e.Error
			}
			rows = append(rows, []string{strconv.FormatInt(e.Seq, 10), showTime(e.Time), who, e.Change, why})
		}
		if err := p.Linef(""); err != nil {
			return err
		}
		return p.Table([]string{"SEQ", "TIME", "AGENT", "CHANGE", "NOW DENIED BY"}, rows)
	}
	return nil
}

// policyShadowReportCmd is `admission policy shadow-report`: what the
// server's shadow policy (policy.shadow_dir) would have changed.
func (a *app) policyShadowReportCmd() *cobra.Command {
	var since, from, to string
	var max, examples int
	cmd := &cobra.Command{
		Use:   "shadow-report [--since 1d | --from T [--to T]] [--max N] [--examples N]",
		Short: "Report what the server's shadow policy would have changed on recorded decisions",
		Long: `The server evaluates its shadow policy (policy.shadow_dir) on the recorded
policy inputs of the window (default: the last 24 hours) and reports, as
policy replay does, what it would have decided otherwise. The shadow is
also evaluated on every decision as it is made, counted in
agentgate_shadow_decisions_total and agentgate_shadow_changes_total.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := inputsWindow(since, from, to, max)
			if err != nil {
				return err
			}
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			rep, err := s.api.ShadowReport(cmd.Context(), q, examples)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(rep)
			}
			return printReplay(s.out, &rep.Report, rep.Candidate, rep.More)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "the decisions of this long ago until now (1d, 6h)")
	f.StringVar(&from, "from", "", "from this time (RFC 3339, a date, or a duration ago)")
	f.StringVar(&to, "to", "", "until this time (default: now)")
	f.IntVar(&max, "max", 0, "at most this many decisions (server default 100000)")
	f.IntVar(&examples, "examples", 0, "examples per change (server default 5)")
	return cmd
}
