package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/store"
)

// Block and action ids agentgate's messages and modal use.
const (
	actionApprove    = "agentgate_approve"
	actionReject     = "agentgate_reject"
	blockActions     = "agentgate_actions"
	rejectCallbackID = "agentgate_reject"
	reasonBlockID    = "agentgate_reason"
	reasonActionID   = "reason"
)

// Text limits: Slack's are 150 characters for a header, 2000 for a field
// and 3000 for a section; agentgate keeps prompts shorter to stay readable.
const (
	headerLimit = 150
	fieldLimit  = 500
	reasonLimit = 1000
	promptLimit = 1200
	shortSHA    = 7
)

// message is what an approval's Slack message shows.
type message struct {
	a          store.Approval
	agent      agents.Agent
	compareURL string
	text       string
}

// blocks lays out the message; withActions adds the Approve and Reject
// buttons (pending approvals only).
func (m message) blocks(withActions bool) []slack.Block {
	a := m.a
	ev := a.Event
	out := []slack.Block{
		slack.NewHeaderBlock(plain(m.title(), headerLimit)),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			field("Agent", m.agentLine()),
			field("Owner", who(a.Owner)),
			field("Repository", escape(a.Repo, fieldLimit)),
			field("Environment", escape(a.Environment, fieldLimit)),
			field("Change", m.changeLine()),
			field("Triggered by", orUnknown(who(ev.Trigger.TriggeredBy))),
			field("Expires", slackDate(a.ExpiresAt)),
			field("Approvers", escape(strings.Join(a.Approvers, ", "), fieldLimit)),
		}, nil, slack.SectionBlockOptionBlockID("agentgate_facts")),
		section("agentgate_reason", "*Why a person must approve*\n"+orUnknown(escape(a.Reason, reasonLimit))),
	}
	if p := strings.TrimSpace(ev.Trigger.Prompt); p != "" {
		out = append(out, section("agentgate_prompt", "*Prompt*\n"+quote(p, promptLimit)))
	}
	if r := strings.TrimSpace(ev.Trigger.Reasoning); r != "" {
		out = append(out, section("agentgate_reasoning", "*Agent's reasoning*\n"+quote(r, promptLimit)))
	}
	if a.State != store.ApprovalPending {
		out = append(out, section("agentgate_outcome", m.outcome()))
	}
	out = append(out, slack.NewContextBlock("agentgate_context", md(fmt.Sprintf(
		"agentgate approval `%s` · %s %s · decision #%d", escape(a.ID, fieldLimit), escape(a.Provider, fieldLimit), escape(string(ev.Kind), fieldLimit), a.DecisionSeq))))
	if withActions && a.State == store.ApprovalPending {
		approve := slack.NewButtonBlockElement(actionApprove, a.ID, plain("Approve", 75))
		approve.Style = slack.StylePrimary
		approve.Confirm = slack.NewConfirmationBlockObject(
			plain("Approve this change?", 100),
			md(fmt.Sprintf("The held change then goes on in *%s*.", escape(a.Environment, fieldLimit))),
			plain("Approve", 30), plain("Cancel", 30))
		reject := slack.NewButtonBlockElement(actionReject, a.ID, plain("Reject", 75))
		reject.Style = slack.StyleDanger
		out = append(out, slack.NewActionBlock(blockActions, approve, reject))
	}
	return out
}

// title is the header: what is waiting, or how it ended.
func (m message) title() string {
	what := fmt.Sprintf("%s → %s", m.agentName(), m.a.Environment)
	switch m.a.State {
	case store.ApprovalPending:
		return "Approval needed: " + what
	case store.ApprovalApproved:
		return "Approved: " + what
	case store.ApprovalRejected:
		return "Rejected: " + what
	case store.ApprovalExpired:
		return "Expired: " + what
	case store.ApprovalCancelled:
		return "Cancelled: " + what
	}
	return string(m.a.State) + ": " + what
}

// fallbackText is the notification text (and what screen readers and
// clients without Block Kit show).
func (m message) fallbackText() string {
	a := m.a
	if a.State == store.ApprovalPending {
		return fmt.Sprintf("Approval needed: agent %s wants to change %s in %s (approval %s)", m.agentName(), a.Repo, a.Environment, a.ID)
	}
	return fmt.Sprintf("Approval %s for agent %s in %s: %s by %s", a.ID, m.agentName(), a.Environment, a.State, a.ResolvedBy)
}

func (m message) agentName() string {
	if m.agent.Name != "" {
		return m.agent.Name
	}
	if m.a.AgentID != "" {
		return m.a.AgentID
	}
	return "unregistered"
}

func (m message) agentLine() string {
	line := escape(m.agentName(), fieldLimit)
	var attrs []string
	if m.agent.Type != "" {
		attrs = append(attrs, "`"+escape(m.agent.Type, fieldLimit)+"`")
	}
	if m.agent.Tier != "" {
		attrs = append(attrs, "tier `"+escape(string(m.agent.Tier), fieldLimit)+"`")
	}
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	return line
}

// changeLine is "`ref` @ sha", the sha linked to the compare view.
func (m message) changeLine() string {
	ev := m.a.Event
	sha := m.a.SHA
	if sha == "" {
		sha = ev.SHA
	}
	short := sha
	if len(short) > shortSHA {
		short = short[:shortSHA]
	}
	var parts []string
	if ev.Ref != "" {
		parts = append(parts, "`"+escape(ev.Ref, fieldLimit)+"`")
	}
	switch {
	case short == "":
	case m.compareURL != "" && !strings.ContainsAny(m.compareURL, "<>|"):
		parts = append(parts, fmt.Sprintf("<%s|`%s`>", m.compareURL, escape(short, shortSHA)))
	default:
		parts = append(parts, "`"+escape(short, shortSHA)+"`")
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, " @ ")
}

// outcome says who resolved the approval, when, and why.
func (m message) outcome() string {
	a := m.a
	icon := map[store.ApprovalState]string{
		store.ApprovalApproved: ":white_check_mark:", store.ApprovalRejected: ":x:",
		store.ApprovalExpired: ":hourglass:", store.ApprovalCancelled: ":no_entry_sign:",
	}[a.State]
	state := string(a.State)
	if state != "" {
		state = strings.ToUpper(state[:1]) + state[1:]
	}
	s := fmt.Sprintf("%s *%s*", icon, escape(state, fieldLimit))
	if a.ResolvedBy != "" {
		s += " by " + who(a.ResolvedBy)
	}
	if a.ResolvedAt != nil {
		s += " " + slackDate(*a.ResolvedAt)
	}
	if note := strings.TrimSpace(a.ResolvedNote); note != "" {
		s += "\n" + quote(note, reasonLimit)
	}
	return s
}

// ownerNote ends the owner's direct message.
func ownerNote(channel string) slack.Block {
	return slack.NewContextBlock("agentgate_owner_note", md(fmt.Sprintf(
		"You own this agent. Its approvers were asked in <#%s>; the outcome is shown there.", channel)))
}

// rejectMetadata is the reject modal's private_metadata.
type rejectMetadata struct {
	ID      string `json:"id"`
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
}

// rejectModal asks for the reason of a rejection.
func rejectModal(a store.Approval, channel, ts string) (slack.ModalViewRequest, error) {
	meta, err := json.Marshal(rejectMetadata{ID: a.ID, Channel: channel, TS: ts})
	if err != nil {
		return slack.ModalViewRequest{}, fmt.Errorf("encode modal metadata: %w", err)
	}
	input := slack.NewPlainTextInputBlockElement(plain("Why is this change rejected?", 150), reasonActionID)
	input.Multiline = true
	input.MaxLength = 1000
	input.FocusOnLoad = true
	hint := plain("The reason is shown to the CI system and recorded in the audit log.", 150)
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: rejectCallbackID,
		Title:      plain("Reject change", 24),
		Submit:     plain("Reject", 24),
		Close:      plain("Cancel", 24),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section("agentgate_reject_what", fmt.Sprintf("Reject approval `%s` (%s in %s)?",
				escape(a.ID, fieldLimit), escape(a.Repo, fieldLimit), escape(a.Environment, fieldLimit))),
			slack.NewInputBlock(reasonBlockID, plain("Reason", 2000), hint, input),
		}},
		PrivateMetadata: string(meta),
	}, nil
}

func plain(s string, limit int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, clip(s, limit), false, false)
}

func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func field(label, value string) *slack.TextBlockObject {
	return md("*" + label + "*\n" + value)
}

func section(id, text string) *slack.SectionBlock {
	return slack.NewSectionBlock(md(text), nil, nil, slack.SectionBlockOptionBlockID(id))
}

// who shows a person: a Slack user id as a mention, anything else as text.
func who(s string) string {
	if isSlackUserID(s) {
		return "<@" + s + ">"
	}
	return escape(s, fieldLimit)
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "_unknown_"
	}
	return s
}

// slackDate shows t in each reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return "_unknown_"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// quote escapes s, cuts it to limit characters, and quotes every line.
func quote(s string, limit int) string {
	lines := strings.Split(escape(s, limit), "\n")
	for i, l := range lines {
		lines[i] = "> " + l
	}
	return strings.Join(lines, "\n")
}

// escape makes untrusted text inert in mrkdwn (Slack's three control
// characters, so no mention, link or broadcast can be injected) and cuts
// the result to limit characters, never inside an escape.
func escape(s string, limit int) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	full := r.Replace(s)
	if utf8.RuneCountInString(full) <= limit {
		return full
	}
	if limit < 1 {
		return ""
	}
	var b strings.Builder
	n := 0
	for _, c := range s {
		piece := r.Replace(string(c))
		w := utf8.RuneCountInString(piece)
		if n+w > limit-1 {
			break
		}
		b.WriteString(piece)
		n += w
	}
	b.WriteString("…")
	return b.String()
}

// clip cuts plain text to limit characters.
func clip(s string, limit int) string {
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	if limit < 1 {
		return ""
	}
	return string(r[:limit-1]) + "…"
}
