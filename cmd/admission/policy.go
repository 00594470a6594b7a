package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/policies"
)

// policyCmd holds the offline policy commands: they need no server.
func (a *app) policyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test, explain and replay admission policies",
	}
	cmd.AddCommand(a.policyTestCmd(), a.policyEvalCmd(), a.policyReplayCmd(), a.policyShadowReportCmd())
	return cmd
}

// policySet returns the built-in set or a directory.
func policySet(dir string) (fs.FS, string, error) {
	if dir == "" {
		return policies.FS(), "built-in", nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, "", fmt.Errorf("policy directory: %w", err)
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("policy directory: %s is not a directory", dir)
	}
	return os.DirFS(dir), dir, nil
}

// testFailures is returned when Rego tests fail: exit status 1.
type testFailures struct{ failed, total int }

func (e testFailures) Error() string {
	return fmt.Sprintf("%d of %d policy tests failed", e.failed, e.total)
}
func (e testFailures) ExitCode() int { return 1 }

func (a *app) policyTestCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the Rego tests of a policy set (the built-in set without DIR)",
		Long: `Run the Rego unit tests (*_test.rego) of a policy set with its data, as
'opa test' would. Without DIR the built-in policies are tested. The exit
status is 1 when a test fails.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			fsys, source, err := policySet(dir)
			if err != nil {
				return err
			}
			passed, failed, err := policy.RunTests(cmd.Context(), fsys, cmd.OutOrStdout(), verbose)
			if err != nil {
				return fmt.Errorf("test %s policies: %w", source, err)
			}
			if failed > 0 {
				return testFailures{failed: failed, total: passed + failed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every test, not only failures")
	return cmd
}

func (a *app) policyEvalCmd() *cobra.Command {
	var input, dir string
	var explain bool
	cmd := &cobra.Command{
		Use:   "eval --input FILE [--policy-dir DIR] [--explain]",
		Short: "Explain the decision a policy set gives for an input document",
		Long: `Evaluate data.agentgate.admission.decision for a policy input document
({"event": ..., "agent": ..., "unregistered_agent": ..., "usage": ..., "now": ...};
see docs/policy.md) and print the decision and the rules behind it. FILE may be
- for standard input. Nothing is charged or stored; no server is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := newPrinter(a.output, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			raw, err := readInput(cmd.InOrStdin(), input)
			if err != nil {
				return err
			}
			fsys, source, err := policySet(dir)
			if err != nil {
				return err
			}
			eng, err := policy.New(cmd.Context(), policy.Options{FS: fsys, Source: source, SkipTests: true})
			if err != nil {
				return fmt.Errorf("load %s policies: %w", source, err)
			}
			if explain {
				res, fired, err := policy.ExplainFile(cmd.Context(), eng, raw)
				if err != nil {
					return err
				}
				if p.json {
					return p.JSON(struct {
						policy.Result
						Fired []policy.Fired `json:"fired"`
					}{res, fired})
				}
				if err := printPolicyResult(p, res); err != nil {
					return err
				}
				return printFired(p, fired)
			}
			res, err := policy.EvalFile(cmd.Context(), eng, raw)
			if err != nil {
				return err
			}
			if p.json {
				return p.JSON(res)
			}
			return printPolicyResult(p, res)
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "policy input document (JSON file, or - for stdin)")
	cmd.Flags().StringVar(&dir, "policy-dir", "", "policy directory (default: the built-in policies)")
	cmd.Flags().BoolVar(&explain, "explain", false, "also print the rules that held, in evaluation order, with the values they saw")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

func readInput(stdin io.Reader, name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 8<<20))
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	return b, nil
}

func printPolicyResult(p *printer, res policy.Result) error {
	d := res.Decision
	verdict := "allow"
	switch {
	case len(d.Deny) > 0 || !d.Allow:
		verdict = "deny"
	case d.RequireApproval != nil:
		verdict = "approval_required"
	}
	fields := [][2]string{{"Decision", verdict}, {"Enforcement", string(d.Enforcement)}, {"Revision", res.Revision}}
	if a := d.RequireApproval; a != nil {
		fields = append(fields, [2]string{"Approvers", showList(a.Approvers)}, [2]string{"Approval TTL", a.TTL.String()})
	}
	if err := p.Fields(fields); err != nil {
		return err
	}
	var rows [][]string
	for _, r := range d.Deny {
		rows = append(rows, []string{"deny", r.Rule, string(r.Enforcement), r.Message})
	}
	for _, r := range d.Warnings {
		rows = append(rows, []string{"warning", r.Rule, string(r.Enforcement), r.Message})
	}
	if a := d.RequireApproval; a != nil {
		rows = append(rows, []string{"approval", "require_approval", "enforce", a.Reason})
	}
	if len(rows) > 0 {
		if err := p.Linef(""); err != nil {
			return err
		}
		if err := p.Table([]string{"VERDICT", "RULE", "MODE", "MESSAGE"}, rows); err != nil {
			return err
		}
	}
	if len(d.Quotas) == 0 {
		return nil
	}
	var qrows [][]string
	for _, q := range d.Quotas {
		shape := fmt.Sprintf("%d per %s, cost %d", q.Limit, q.Window, q.Cost)
		if q.Kind == policy.QuotaConcurrency {
			shape = fmt.Sprintf("%d at once, key %s, ttl %s", q.Limit, q.Key, q.TTL)
		}
		qrows = append(qrows, []string{q.Name, string(q.Kind), shape})
	}
	if err := p.Linef(""); err != nil {
		return err
	}
	return p.Table([]string{"QUOTA", "KIND", "LIMIT"}, qrows)
}

// printFired prints the rules that held with their values.
func printFired(p *printer, fired []policy.Fired) error {
	if err := p.Linef("\nRules that held, in evaluation order:"); err != nil {
		return err
	}
	for _, f := range fired {
		if err := p.Linef("  %s  (%s)", f.Rule, f.Location); err != nil {
			return err
		}
		for _, v := range f.Values {
			if err := p.Linef("      %s = %s", v.Name, v.Value); err != nil {
				return err
			}
		}
	}
	return nil
}
