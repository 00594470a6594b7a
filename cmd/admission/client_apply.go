package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/agentfile"
	"github.com/agentgate/agentgate/internal/registry"
)

// applyFlags are the flags apply and diff share.
type applyFlags struct {
	files    []string
	selector string
	prune    bool
	reason   string
}

func (f *applyFlags) add(cmd *cobra.Command, withReason bool) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "filename", "f", nil, "a file of Agent documents, a directory of *.yaml and *.yml files, or - for standard input (repeatable)")
	fl.StringVarP(&f.selector, "selector", "l", "", "with --prune: the labels (k=v,k=v) of the agents the files own")
	fl.BoolVar(&f.prune, "prune", false, "decommission the agents --selector matches that the files do not declare")
	if withReason {
		fl.StringVar(&f.reason, "reason", "", "why, recorded in the audit log (a commit or pull request)")
	}
}

// request reads the files into an apply request.
func (f *applyFlags) request(cmd *cobra.Command, dryRun bool) (registry.ApplyRequest, error) {
	if len(f.files) == 0 {
		return registry.ApplyRequest{}, errors.New("-f is required: a file, a directory or - for standard input")
	}
	if f.prune != (f.selector != "") {
		return registry.ApplyRequest{}, errors.New("--prune and --selector go together: --prune -l team=payments")
	}
	r := registry.ApplyRequest{DryRun: dryRun, Reason: f.reason}
	if f.prune {
		sel, err := parseSelector(f.selector)
		if err != nil {
			return registry.ApplyRequest{}, err
		}
		r.Prune = sel
	}
	for _, name := range f.files {
		docs, err := readAgentFiles(cmd.InOrStdin(), name)
		if err != nil {
			return registry.ApplyRequest{}, err
		}
		for _, d := range docs {
			r.Agents = append(r.Agents, d.Spec())
		}
	}
	return r, nil
}

// readAgentFiles reads one -f argument: standard input, a file, or the
// *.yaml and *.yml files of a directory in name order.
func readAgentFiles(stdin io.Reader, name string) ([]agentfile.Document, error) {
	if name == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return agentfile.Parse("<stdin>", b)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	files := []string{name}
	if fi.IsDir() {
		entries, err := os.ReadDir(name)
		if err != nil {
			return nil, err
		}
		files = files[:0]
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(name, e.Name()))
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s has no .yaml or .yml files", name)
		}
	}
	var out []agentfile.Document
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs, err := agentfile.Parse(f, b)
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

// parseSelector reads k=v,k=v.
func parseSelector(s string) (map[string]string, error) {
	sel := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--selector %q: want key=value pairs separated by commas", s)
		}
		sel[k] = v
	}
	return sel, nil
}

func (a *app) applyCmd() *cobra.Command {
	var f applyFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- [--dry-run] [--prune -l k=v] [--reason TEXT]",
		Short: "Create or update the agents files declare, in one audited change",
		Long: "Create or update the agents that the Agent documents of the files declare, all in one\n" +
			"transaction audited as one change. Type and tier are set when an agent is created;\n" +
			"tiers then change only through promote and demote. With --prune, agents that carry\n" +
			"the --selector labels but are not in the files are decommissioned.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, res, err := a.apply(cmd, &f, dryRun)
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.JSON(res)
			}
			return s.out.applyResult(res)
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change and change nothing")
	return cmd
}

// apply reads the files of f and sends them, a dry run for diff.
func (a *app) apply(cmd *cobra.Command, f *applyFlags, dryRun bool) (*session, registry.ApplyResult, error) {
	r, err := f.request(cmd, dryRun)
	if err != nil {
		return nil, registry.ApplyResult{}, err
	}
	s, err := a.session(cmd)
	if err != nil {
		return nil, registry.ApplyResult{}, err
	}
	res, err := s.api.ApplyAgents(cmd.Context(), r)
	return s, res, err
}

// diffExit is the exit status of `diff` when the files and the registry differ.
type diffExit struct{}

func (diffExit) Error() string { return "the files differ from the registry" }
func (diffExit) ExitCode() int { return 2 }

func (a *app) diffCmd() *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR|- [--prune -l k=v]",
		Short: "Show how the registry differs from the agents files declare (exit status 2 when it does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, res, err := a.apply(cmd, &f, true)
			if err != nil {
				return err
			}
			if s.out.json {
				err = s.out.JSON(res)
			} else {
				err = s.out.diffResult(res)
			}
			if err != nil {
				return err
			}
			if res.Changed() {
				return diffExit{}
			}
			return nil
		},
	}
	f.add(cmd, false)
	return cmd
}

// applyResult prints one line per agent, kubectl style:
// "agent/pay-coder configured (owner, environments)".
func (p *printer) applyResult(res registry.ApplyResult) error {
	verbs := map[string]string{registry.ActionCreate: "created", registry.ActionUpdate: "configured",
		registry.ActionUnchanged: "unchanged", registry.ActionDecommission: "decommissioned"}
	suffix := ""
	if res.DryRun {
		suffix = " (dry run)"
	}
	var b strings.Builder
	for _, c := range res.Changes {
		fmt.Fprintf(&b, "agent/%s %s", c.Name, verbs[c.Action])
		if c.Action == registry.ActionUpdate {
			fmt.Fprintf(&b, " (%s)", strings.Join(fieldNames(c.Fields), ", "))
		}
		b.WriteString(suffix + "\n")
		for _, note := range c.Ignored {
			fmt.Fprintf(&b, "  not applied: %s\n", note)
		}
	}
	return p.Linef("%s", strings.TrimSuffix(b.String(), "\n"))
}

// diffResult prints what differs: "+" an agent to create, "~" one to
// change with each field's live and declared values, "-" one to
// decommission. Unchanged agents are not shown.
func (p *printer) diffResult(res registry.ApplyResult) error {
	var b strings.Builder
	for _, c := range res.Changes {
		mark := map[string]string{registry.ActionCreate: "+", registry.ActionUpdate: "~", registry.ActionDecommission: "-"}[c.Action]
		if mark == "" {
			for _, note := range c.Ignored {
				fmt.Fprintf(&b, "  agent/%s: not applied: %s\n", c.Name, note)
			}
			continue
		}
		fmt.Fprintf(&b, "%s agent/%s\n", mark, c.Name)
		for _, f := range c.Fields {
			if c.Action == registry.ActionCreate {
				fmt.Fprintf(&b, "    %s: %s\n", f.Field, showValue(f.To))
				continue
			}
			fmt.Fprintf(&b, "    %s: %s -> %s\n", f.Field, showValue(f.From), showValue(f.To))
		}
		for _, note := range c.Ignored {
			fmt.Fprintf(&b, "    not applied: %s\n", note)
		}
	}
	if b.Len() == 0 {
		return p.Linef("no differences")
	}
	return p.Linef("%s", strings.TrimSuffix(b.String(), "\n"))
}

func fieldNames(fs []registry.FieldChange) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Field
	}
	return out
}

// showValue writes a field value as the API sends it: lists in brackets,
// labels as k=v in key order, none as "-".
func showValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%v", k, x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}
