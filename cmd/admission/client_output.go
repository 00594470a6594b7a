package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
)

// printer writes a command's result as a table or as indented JSON.
type printer struct {
	w    io.Writer // results
	note io.Writer // notes for humans (stderr), kept out of JSON output
	json bool
}

// newPrinter checks the -o value.
func newPrinter(format string, w, note io.Writer) (*printer, error) {
	switch format {
	case outputTable:
		return &printer{w: w, note: note}, nil
	case outputJSON:
		return &printer{w: w, note: note, json: true}, nil
	}
	return nil, fmt.Errorf("unknown output format %q: use -o table or -o json", format)
}

// JSON prints v indented, as the API encodes it.
func (p *printer) JSON(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// items prints a list in the API's {"items": [...]} form.
func (p *printer) items(v any) error {
	return p.JSON(map[string]any{"items": v})
}

// Notef prints a note for humans to stderr.
func (p *printer) Notef(format string, args ...any) {
	_, _ = fmt.Fprintf(p.note, format+"\n", args...)
}

// Table prints rows under a header as aligned columns.
func (p *printer) Table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	showRow(tw, header)
	for _, r := range rows {
		showRow(tw, r)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// Fields prints label: value pairs with the values aligned.
func (p *printer) Fields(pairs [][2]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	for _, kv := range pairs {
		showRow(tw, []string{kv[0] + ":", kv[1]})
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write fields: %w", err)
	}
	return nil
}

// Linef prints one line of text.
func (p *printer) Linef(format string, args ...any) error {
	if _, err := fmt.Fprintf(p.w, format+"\n", args...); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func showRow(w io.Writer, cells []string) {
	clean := make([]string, len(cells))
	for i, c := range cells {
		clean[i] = showCell(c)
	}
	_, _ = fmt.Fprintln(w, strings.Join(clean, "\t"))
}

// showCell keeps a value on one line and shows an empty one as "-".
func showCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

func showList(s []string) string { return strings.Join(s, ",") }

func showTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func showTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return showTime(*t)
}

func showLabels(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return showList(out)
}

// agentRows prints agents as NAME ID TYPE OWNER TIER STATE ENVIRONMENTS.
func (p *printer) agentRows(list []agents.Agent) error {
	rows := make([][]string, len(list))
	for i, a := range list {
		rows[i] = []string{a.Name, a.ID, a.Type, a.Owner, string(a.Tier), string(a.State), strings.Join(a.Environments, ",")}
	}
	return p.Table([]string{"NAME", "ID", "TYPE", "OWNER", "TIER", "STATE", "ENVIRONMENTS"}, rows)
}

// agentFields prints one agent in full.
func (p *printer) agentFields(a agents.Agent) error {
	return p.Fields([][2]string{
		{"Name", a.Name}, {"ID", a.ID}, {"Type", a.Type}, {"Owner", a.Owner},
		{"Tier", string(a.Tier)}, {"State", string(a.State)},
		{"Capabilities", showList(a.Capabilities)}, {"Environments", showList(a.Environments)},
		{"Namespaces", showList(a.Namespaces)}, {"Principals", showList(a.Principals)},
		{"Labels", showLabels(a.Labels)}, {"Expires", showTimePtr(a.ExpiresAt)},
		{"Created", showTime(a.CreatedAt)}, {"Updated", showTime(a.UpdatedAt)},
		{"Version", strconv.FormatInt(a.Version, 10)},
	})
}

// killSwitchRows prints kill switches as ID SCOPE TARGET STATE SOURCE
// ENGAGED_BY ENGAGED_AT REASON; an agent target is shown by name when
// targetName resolves it.
func (p *printer) killSwitchRows(list []store.KillSwitch, targetName func(id string) string) error {
	rows := make([][]string, len(list))
	for i, ks := range list {
		state := "engaged"
		if !ks.Active() {
			state = "released by " + ks.ReleasedBy + " at " + showTimePtr(ks.ReleasedAt)
		}
		target := ks.Target
		if ks.Scope == store.ScopeAgent {
			target = targetName(ks.Target)
		}
		rows[i] = []string{ks.ID, string(ks.Scope), target, state, ks.Source, ks.EngagedBy, showTime(ks.EngagedAt), ks.Reason}
	}
	return p.Table([]string{"ID", "SCOPE", "TARGET", "STATE", "SOURCE", "ENGAGED_BY", "ENGAGED_AT", "REASON"}, rows)
}
