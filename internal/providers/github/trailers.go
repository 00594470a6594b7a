package github

import (
	"encoding/json"
	"strings"

	"github.com/agentgate/agentgate/internal/event"
)

// Trigger sources.
const (
	sourceCommitTrailer     = "commit-trailer"
	sourceDeploymentPayload = "deployment-payload"
)

// Commit trailer keys an agent sets, compared case-insensitively.
const (
	trailerAgentID     = "agent-id"
	trailerPrompt      = "agent-prompt"
	trailerReasoning   = "agent-reasoning"
	trailerTriggeredBy = "agent-triggered-by"
)

// Length caps of event.Validate; trigger fields are clipped to them rather
// than refused, so that a long prompt does not leave a run ungoverned.
const (
	maxField   = 512
	maxTrigger = 8192
)

// commitTrailers returns the trailers of a commit message, keyed by lower
// case key, following git-interpret-trailers(1):
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
func commitTrailers(message string) map[string]string {
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

// trailerTrigger builds a trigger from a commit message's agent trailers;
// it is empty when the message has none.
func trailerTrigger(message string) event.Trigger {
	t := commitTrailers(message)
	tr := event.Trigger{
		AgentID:     clip(t[trailerAgentID], maxField),
		Prompt:      clip(t[trailerPrompt], maxTrigger),
		Reasoning:   clip(t[trailerReasoning], maxTrigger),
		TriggeredBy: clip(t[trailerTriggeredBy], maxField),
	}
	if tr != (event.Trigger{}) {
		tr.Source = sourceCommitTrailer
	}
	return tr
}

// payloadTrigger reads agent_id, prompt, reasoning and triggered_by from a
// deployment's free-form payload: a JSON object, or a string holding one.
// Anything else, and fields that are not strings, are ignored: the payload
// belongs to whoever created the deployment.
func payloadTrigger(raw json.RawMessage) event.Trigger {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return event.Trigger{}
	}
	str := func(key string, max int) string {
		var v string
		if json.Unmarshal(fields[key], &v) != nil {
			return ""
		}
		return clip(strings.TrimSpace(v), max)
	}
	tr := event.Trigger{
		AgentID:     str("agent_id", maxField),
		Prompt:      str("prompt", maxTrigger),
		Reasoning:   str("reasoning", maxTrigger),
		TriggeredBy: str("triggered_by", maxField),
	}
	if tr != (event.Trigger{}) {
		tr.Source = sourceDeploymentPayload
	}
	return tr
}

// clip cuts s to at most max bytes without splitting a UTF-8 sequence.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
