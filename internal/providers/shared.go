package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
)

// Helpers the CI providers share for the texts they send back (comments,
// statuses, check runs) and for their payload errors.

// ApprovalComment is the comment of an approval by decision.
func ApprovalComment(d Decision) string {
	var parts []string
	if d.AgentName != "" {
		parts = append(parts, "agent "+d.AgentName)
	}
	if d.DecisionID != "" {
		parts = append(parts, "decision "+d.DecisionID)
	}
	if len(d.Warnings) > 0 {
		parts = append(parts, "warnings: "+strings.Join(d.Warnings, "; "))
	}
	if len(parts) == 0 {
		return "Approved by agentgate"
	}
	return "Approved by agentgate: " + strings.Join(parts, ", ")
}

// RejectionComment is the comment of a rejection by decision: the reasons.
func RejectionComment(d Decision) string {
	lead := "Rejected by agentgate"
	if d.DecisionID != "" {
		lead += " (decision " + d.DecisionID + ")"
	}
	return JoinShort(lead, d.Reasons)
}

// JoinShort is "<lead>: <line>; <line>", or the lead alone.
func JoinShort(lead string, lines []string) string {
	if len(lines) == 0 {
		return lead
	}
	return lead + ": " + strings.Join(lines, "; ")
}

func NonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TruncateRunes cuts s to at most n characters, marking the cut with "…".
func TruncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// InvalidJSON describes a JSON decoding error of a named payload.
func InvalidJSON(name string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	msg := err.Error()
	switch {
	case errors.Is(err, io.EOF), strings.Contains(msg, "unexpected end of JSON input"):
		msg = "empty or truncated body"
	case errors.As(err, &syn):
		msg = fmt.Sprintf("syntax error at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		msg = fmt.Sprintf("field %q must be %s, not %s", field, typ.Type, typ.Value)
	}
	return apperr.Invalid("invalid %s payload: %s", Clip(name, 64), msg)
}
