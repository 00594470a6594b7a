package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/client"
	"github.com/agentgate/agentgate/internal/store"
)

// auditCmd is `admission audit ...`.
func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Query, verify and export the hash-chained audit log",
	}
	cmd.AddCommand(a.auditQueryCmd(), a.auditVerifyCmd(), a.auditExportCmd())
	return cmd
}

func (a *app) auditQueryCmd() *cobra.Command {
	var q store.AuditQuery
	var kind, from, to string
	var all bool
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Show audit records, oldest first (one page unless --all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var err error
			if q.From, err = optionalTimeFlag("from", from, now, -1); err != nil {
				return err
			}
			if q.To, err = optionalTimeFlag("to", to, now, -1); err != nil {
				return err
			}
			if q.AfterSeq < 0 || q.Limit < 0 || q.Limit > 1000 {
				return errors.New("--after must be >= 0 and --limit between 1 and 1000")
			}
			q.Kind = audit.Kind(kind)
			s, err := a.session(cmd)
			if err != nil {
				return err
			}
			if !all {
				page, err := s.api.QueryAudit(cmd.Context(), q)
				if err != nil {
					return err
				}
				if s.out.json {
					return s.out.JSON(page)
				}
				if err := s.out.auditRows(page.Items); err != nil {
					return err
				}
				if page.NextCursor != "" {
					s.out.Notef("more records follow: rerun with --after %s, or with --all", page.NextCursor)
				}
				return nil
			}
			if q.Limit == 0 {
				q.Limit = 1000
			}
			recs := []audit.Record{}
			err = s.api.EachAudit(cmd.Context(), q, func(r audit.Record) error {
				recs = append(recs, r)
				return nil
			})
			if err != nil {
				return err
			}
			if s.out.json {
				return s.out.items(recs)
			}
			return s.out.auditRows(recs)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&q.AgentID, "agent", "", "only records of this agent (id or name)")
	fl.StringVar(&q.Owner, "owner", "", "only records of this owner")
	fl.StringVar(&q.Outcome, "outcome", "", "only decisions with this outcome (allow, deny, approval_required)")
	fl.StringVar(&q.Provider, "provider", "", "only records from this provider")
	fl.StringVar(&kind, "kind", "", "only records of this kind (decision, kill, promotion, admin_change, ...)")
	fl.StringVar(&from, "from", "", "records at or after: RFC 3339 time, date, or duration ago such as 24h")
	fl.StringVar(&to, "to", "", "records before: RFC 3339 time, date, or duration ago")
	fl.Int64Var(&q.AfterSeq, "after", 0, "only records after this sequence number (the cursor)")
	fl.IntVar(&q.Limit, "limit", 0, "records per page, 1-1000 (server default 100)")
	fl.BoolVar(&all, "all", false, "follow the cursor to the end instead of printing one page")
	return cmd
}

// auditRows prints records as SEQ TIME KIND ACTOR AGENT OUTCOME MESSAGE.
// AGENT names whom an agent acted for as "<agent> for <initiator>", and
// "for <initiator>" alone when the actor is no registered agent.
func (p *printer) auditRows(recs []audit.Record) error {
	rows := make([][]string, len(recs))
	for i, r := range recs {
		agent := r.AgentName
		if agent == "" {
			agent = r.AgentID
		}
		if r.Initiator != "" {
			agent = strings.TrimPrefix(agent+" for "+r.Initiator, " ")
		}
		outcome, msg := "", r.Message
		if d := r.Decision; d != nil {
			outcome = d.Outcome
			if d.Effective != "" && d.Effective != d.Outcome {
				outcome += " (effective " + d.Effective + ")"
			}
			if msg == "" {
				msg = strings.Join(d.Reasons, "; ")
			}
		}
		rows[i] = []string{strconv.FormatInt(r.Seq, 10), showTime(r.Time), string(r.Kind), r.Actor, agent, outcome, msg}
	}
	return p.Table([]string{"SEQ", "TIME", "KIND", "ACTOR", "AGENT", "OUTCOME", "MESSAGE"}, rows)
}

// chainBrokenError reports a broken audit chain; the command exits 2.
type chainBrokenError struct {
	v client.Verification
}

func (e *chainBrokenError) Error() string { return "audit chain broken: " + breakText(e.v) }

// breakText says where and why the chain breaks.
func breakText(v client.Verification) string {
	if v.Break == nil {
		return "the server reported it as not intact"
	}
	return fmt.Sprintf("record %d: %s", v.Break.Seq, v.Break.Reason)
}

// ExitCode makes main exit with status 2.
func (e *chainBrokenError) ExitCode() int { return 2 }

func (a *app) auditVerifyCmd() *cobra.Command {
	var progress progressMode
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole audit hash chain (exit status 2 when it is broken)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The server answers once it has checked the whole chain,
			// which takes longer than an ordinary request.
			s, err := a.sessionWith(cmd, streamingHTTPClient(30*time.Minute))
			if err != nil {
				return err
			}
			// The streamed form starts answering at once, so a long walk
			// is not cut off by the wait for the answer's headers.
			bar := newProgressBar(cmd, progress, "verifying")
			var report client.Progress
			if bar != nil {
				report = bar.update
			}
			v, err := s.api.VerifyAuditProgress(cmd.Context(), report)
			if err == nil {
				bar.update(v.Checked, max(bar.totalOr(0), v.Checked))
			}
			bar.finish()
			if err != nil {
				return err
			}
			if s.out.json {
				err = s.out.JSON(v)
			} else if v.OK {
				err = s.out.Linef("audit chain intact: %d records checked, head %s", v.Checked, v.Head)
			} else {
				err = s.out.Linef("audit chain BROKEN: %s (%d records checked, last good head %s)", breakText(v), v.Checked, v.Head)
			}
			if err != nil {
				return err
			}
			if !v.OK {
				return &chainBrokenError{v: v}
			}
			return nil
		},
	}
	progressFlag(cmd, &progress)
	return cmd
}

func (a *app) auditExportCmd() *cobra.Command {
	var after int64
	var file string
	var progress progressMode
	cmd := &cobra.Command{
		Use:   "export [--after N] [-f FILE]",
		Short: "Stream the audit log as JSON lines (one record with its hash per line)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if after < 0 {
				return errors.New("--after must be >= 0")
			}
			s, err := a.sessionWith(cmd, streamingHTTPClient(client.DefaultTimeout))
			if err != nil {
				return err
			}
			bar := newProgressBar(cmd, progress, "exporting")
			defer bar.finish()
			export := func(w io.Writer) (int64, error) {
				if bar == nil {
					return s.api.ExportAudit(cmd.Context(), after, w)
				}
				return s.api.ExportAuditProgress(cmd.Context(), after, w, bar.update)
			}
			if file == "" || file == "-" {
				_, err := export(cmd.OutOrStdout())
				return err
			}
			n, err := exportToFile(file, export)
			bar.finish()
			if err != nil {
				return err
			}
			s.out.Notef("exported %d audit records to %s", n, file)
			return nil
		},
	}
	cmd.Flags().Int64Var(&after, "after", 0, "export only records after this sequence number")
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file instead of standard output")
	progressFlag(cmd, &progress)
	return cmd
}

// exportToFile writes the export to a temporary file next to name and
// renames it into place only when the export completed, so that a
// half-written file never looks like a complete export.
func exportToFile(name string, export func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.partial")
	if err != nil {
		return 0, fmt.Errorf("export to %s: %w", name, err)
	}
	n, err := export(tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("export to %s: %w", name, cerr)
	}
	if err == nil {
		if rerr := os.Rename(tmp.Name(), name); rerr != nil {
			err = fmt.Errorf("export to %s: %w", name, rerr)
		}
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return n, err
	}
	return n, nil
}
