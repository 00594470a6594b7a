package gate

import (
	"context"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/audit"
)

// maxRefusedField caps what a refusal record keeps of each field.
const maxRefusedField = 256

// recordRefusal appends a refusal record for an authenticated event that
// was refused as invalid input: the sender is answered 400 and nothing
// else is stored, but the attempt is in the audit trail. Fields are kept
// as sent, quoted where they hold characters that are not printable, so
// the record shows exactly what was tried.
func (g *Gate) recordRefusal(ctx context.Context, req Request, cause error) {
	ev := req.Event
	rec := &audit.Record{
		ID: uuid.NewString(), Time: g.o.Now().UTC(), Kind: audit.KindRefusal, Actor: req.Actor,
		Provider: printable(req.source(&ev)), EventKind: printable(string(ev.Kind)), Action: printable(ev.Action),
		Repo: printable(ev.Repo), Ref: printable(ev.Ref), SHA: printable(ev.SHA),
		Environment: printable(ev.Environment), Namespace: printable(ev.Namespace),
		Principal: printable(ev.Principal), DeliveryID: printable(req.DeliveryID),
		Decision: &audit.Decision{Outcome: string(Deny), Reasons: []string{"invalid: " + printable(cause.Error())}},
	}
	if err := g.o.Store.AppendAudit(ctx, rec); err != nil {
		g.o.Logger.ErrorContext(ctx, "recording a refused event failed", "err", err, "provider", rec.Provider)
	}
}

// printable returns s clipped, or Go-quoted (ASCII) when it holds invalid
// UTF-8 or control, format or separator characters other than a plain
// space.
func printable(s string) string {
	clean := utf8.ValidString(s)
	for _, r := range s {
		if !clean {
			break
		}
		if r != ' ' && (unicode.In(r, unicode.Cc, unicode.Cf, unicode.Z)) {
			clean = false
		}
	}
	if !clean {
		s = strconv.QuoteToASCII(s)
	}
	if len(s) > maxRefusedField {
		s = s[:maxRefusedField] + "…"
		if !utf8.ValidString(s) {
			s = strconv.QuoteToASCII(s)
		}
	}
	return s
}
