// Package trailers reads git commit trailers (git-interpret-trailers(1)) and
// the agent trailers agentgate understands: Agent-Id, Agent-Prompt,
// Agent-Reasoning and Agent-Triggered-By. Providers whose payloads carry a
// head commit message (GitHub workflow runs, GitLab pipelines) share it.
package trailers

import (
	"strings"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// SourceCommitTrailer is the trigger source of a trigger read from trailers.
const SourceCommitTrailer = "commit-trailer"

// Agent trailer keys, lower case (keys compare case-insensitively).
const (
	KeyAgentID     = "agent-id"
	KeyPrompt      = "agent-prompt"
	KeyReasoning   = "agent-reasoning"
	KeyTriggeredBy = "agent-triggered-by"
)

// Length caps of event.Validate; trigger fields are clipped to them rather
// than refused, so that a long prompt does not leave a change ungoverned.
const (
	maxField   = 512
	maxTrigger = 8192
)

// Parse returns the trailers of a commit message, keyed by lower case key,
// following git-interpret-trailers(1):
//
//   - The trailer block is the last paragraph of the message (after the
//     last blank or whitespace-only line, trailing blank lines ignored); a
//     message of one paragraph has none (its first line is the subject).
//   - A trailer line is "<key>:<value>": the key is letters, digits and '-',
//     with no whitespace before or inside it; spaces and tabs may separate
//     it from the ':'. The value is trimmed.
//   - A line starting with a space or tab continues the previous trailer's
//     value; it is unfolded, joined to it with one space.
//   - The block counts only if all its lines are trailers (or continuation
//     lines), or if it contains a Git-generated line ("Signed-off-by:" or
//     "(cherry picked from commit ...") and at least a quarter of its lines
//     are trailers; other lines are then skipped.
//   - Of a key given more than once, the first non-empty value counts.
//
// CRLF line ends are accepted.
func Parse(message string) map[string]string {
	msg := strings.ReplaceAll(message, "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(msg, " \t\n"), "\n")
	start := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) == "" {
			start = i + 1
			break
		}
	}
	if start <= 0 || start >= len(lines) {
		return nil
	}
	type entry struct{ key, value string }
	var entries []entry
	trailers, others, gitGenerated := 0, 0, false
	last := -1 // index in entries of the trailer a continuation line extends
	for _, line := range lines[start:] {
		if line[0] == ' ' || line[0] == '\t' {
			if last >= 0 {
				entries[last].value = strings.TrimSpace(entries[last].value + " " + strings.TrimSpace(line))
				continue
			}
			others++
			continue
		}
		if strings.HasPrefix(line, "(cherry picked from commit ") {
			gitGenerated = true
			trailers++
			last = -1
			continue
		}
		key, value, ok := trailerLine(line)
		if !ok {
			others++
			last = -1
			continue
		}
		if strings.EqualFold(key, "signed-off-by") {
			gitGenerated = true
		}
		trailers++
		entries = append(entries, entry{strings.ToLower(key), value})
		last = len(entries) - 1
	}
	if trailers == 0 || (others > 0 && !(gitGenerated && trailers*4 >= trailers+others)) {
		return nil
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		if _, seen := out[e.key]; !seen && e.value != "" {
			out[e.key] = e.value
		}
	}
	return out
}

// trailerLine splits "<key>[ \t]*:<value>".
func trailerLine(line string) (key, value string, ok bool) {
	n := 0
	for n < len(line) && isKeyByte(line[n]) {
		n++
	}
	if n == 0 {
		return "", "", false
	}
	rest := strings.TrimLeft(line[n:], " \t")
	value, ok = strings.CutPrefix(rest, ":")
	if !ok {
		return "", "", false
	}
	return line[:n], strings.TrimSpace(value), true
}

func isKeyByte(c byte) bool {
	return c == '-' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// Trigger builds a trigger from a commit message's agent trailers, with
// source SourceCommitTrailer; it is empty when the message has none. Values
// are clipped to event.Validate's limits.
func Trigger(message string) event.Trigger {
	t := Parse(message)
	tr := event.Trigger{
		AgentID:     providers.Clip(t[KeyAgentID], maxField),
		Prompt:      providers.Clip(t[KeyPrompt], maxTrigger),
		Reasoning:   providers.Clip(t[KeyReasoning], maxTrigger),
		TriggeredBy: providers.Clip(t[KeyTriggeredBy], maxField),
	}
	if tr != (event.Trigger{}) {
		tr.Source = SourceCommitTrailer
	}
	return tr
}
