package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/store"
)

const (
	// maxBody caps an interaction request body.
	maxBody = 1 << 20
	// maxID caps an approval id read from a payload.
	maxID = 128
	// maxReason caps a rejection reason typed in the modal.
	maxReason = 1000
)

// payloadError is a malformed interaction payload (400).
type payloadError string

func (e payloadError) Error() string { return "slack interaction: " + string(e) }

// ServeHTTP is the interactivity endpoint (POST /slack/interactions).
//
// It verifies Slack's signature over the raw body (at most 1 MiB; no
// signing secret refuses everything with 401), then answers within
// Slack's 3 seconds: a button click is acknowledged with an empty 200 and
// handled in the background (the reject modal must open within 3 seconds
// of the click, and resolving can take several Slack and store calls); a
// modal submission is validated synchronously (an empty reason keeps the
// modal open with an error) and resolved in the background.
func (n *Notifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		apperr.WriteBody(w, http.StatusMethodNotAllowed, apperr.Body{Error: apperr.Detail{Code: "method_not_allowed", Message: "use POST"}})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		apperr.WriteHTTP(w, apperr.FromBodyRead(err), "")
		return
	}
	if err := verifySignature(n.o.SigningSecret.Reveal(), r.Header.Get(headerTimestamp), r.Header.Get(headerSignature), body, n.o.Now()); err != nil {
		n.o.Logger.WarnContext(ctx, "slack: interaction refused", "err", err, "remote_addr", r.RemoteAddr)
		apperr.WriteHTTP(w, apperr.New(apperr.KindUnauthenticated, "invalid Slack signature"), "")
		return
	}
	ic, err := parseInteraction(body)
	if err != nil {
		n.o.Logger.WarnContext(ctx, "slack: malformed interaction", "err", err)
		apperr.WriteHTTP(w, apperr.Invalid("malformed interaction payload"), "")
		return
	}
	switch ic.Type {
	case slack.InteractionTypeBlockActions:
		n.blockActions(ctx, ic)
		w.WriteHeader(http.StatusOK)
	case slack.InteractionTypeViewSubmission:
		n.viewSubmission(ctx, w, ic)
	default:
		// Other interactions (a modal closed, a shortcut) need nothing.
		w.WriteHeader(http.StatusOK)
	}
}

// parseInteraction reads the form-encoded body's payload field: the JSON
// interaction Slack sends, from a Slack user.
func parseInteraction(body []byte) (slack.InteractionCallback, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("slack interaction: form: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return slack.InteractionCallback{}, payloadError("no payload field")
	}
	var ic slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &ic); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("slack interaction: payload: %w", err)
	}
	if ic.Type == "" {
		return slack.InteractionCallback{}, payloadError("payload has no type")
	}
	if !isSlackUserID(ic.User.ID) {
		return slack.InteractionCallback{}, payloadError("payload has no Slack user")
	}
	return ic, nil
}

// blockActions starts the work of agentgate's buttons in the payload.
func (n *Notifier) blockActions(ctx context.Context, ic slack.InteractionCallback) {
	channel, ts := ic.Container.ChannelID, ic.Container.MessageTs
	if channel == "" {
		channel = ic.Channel.ID
	}
	if ts == "" {
		ts = ic.Message.Timestamp
	}
	for _, act := range ic.ActionCallback.BlockActions {
		if act == nil || !validID(act.Value) {
			continue
		}
		id, user := act.Value, ic.User
		switch act.ActionID {
		case actionApprove:
			n.background(ctx, "approve from Slack", id, func(ctx context.Context) error {
				return n.decide(ctx, user, id, true, "", channel, ts)
			})
		case actionReject:
			trigger := ic.TriggerID
			n.background(ctx, "reject from Slack", id, func(ctx context.Context) error {
				return n.openReject(ctx, user, trigger, id, channel, ts)
			})
		case actionPromoConfirm, actionPromoRefuse:
			confirm := act.ActionID == actionPromoConfirm
			n.background(ctx, "decide a promotion from Slack", id, func(ctx context.Context) error {
				return n.decidePromotion(ctx, user, id, confirm, channel, ts)
			})
		}
	}
}

// openReject asks the clicker for a reason in a modal. If the modal cannot
// be opened (the trigger expired, Slack failed), the change is rejected
// with a reason naming the clicker, as they asked.
func (n *Notifier) openReject(ctx context.Context, user slack.User, trigger, id, channel, ts string) error {
	a, err := n.o.Resolver.Get(ctx, id)
	switch {
	case apperr.KindOf(err) == apperr.KindNotFound:
		n.ephemeral(ctx, channel, user.ID, fmt.Sprintf("Approval `%s` no longer exists.", escape(id, maxID)))
		return nil
	case err != nil:
		n.o.Logger.WarnContext(ctx, "slack: could not read the approval for the reject modal", "approval_id", id, "err", err)
		a = store.Approval{ID: id, State: store.ApprovalPending}
	case a.State != store.ApprovalPending:
		n.ephemeral(ctx, channel, user.ID, tooLate(a))
		return n.refresh(ctx, a, channel, ts)
	}
	view, err := rejectModal(a, channel, ts)
	if err == nil {
		_, err = n.api.OpenViewContext(ctx, trigger, view)
	}
	if err == nil {
		return nil
	}
	n.o.Logger.WarnContext(ctx, "slack: could not open the reject modal; rejecting without a typed reason", "approval_id", id, "err", err)
	return n.decide(ctx, user, id, false, "rejected in Slack by "+displayName(user), channel, ts)
}

// viewSubmission handles the reject modal: an empty or overlong reason
// keeps the modal open with an error; otherwise the modal closes and the
// rejection runs in the background.
func (n *Notifier) viewSubmission(ctx context.Context, w http.ResponseWriter, ic slack.InteractionCallback) {
	if ic.View.CallbackID != rejectCallbackID {
		w.WriteHeader(http.StatusOK)
		return
	}
	var meta rejectMetadata
	if err := json.Unmarshal([]byte(ic.View.PrivateMetadata), &meta); err != nil || !validID(meta.ID) {
		n.o.Logger.WarnContext(ctx, "slack: reject modal without a valid approval id", "err", err)
		apperr.WriteHTTP(w, apperr.Invalid("malformed modal metadata"), "")
		return
	}
	reason := ""
	if ic.View.State != nil {
		reason = strings.TrimSpace(ic.View.State.Values[reasonBlockID][reasonActionID].Value)
	}
	var problem string
	switch {
	case reason == "":
		problem = "A reason is required: it is shown to the CI system."
	case utf8.RuneCountInString(reason) > maxReason:
		problem = fmt.Sprintf("Keep the reason under %d characters.", maxReason)
	}
	if problem != "" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(slack.ViewSubmissionResponse{
			ResponseAction: slack.RAErrors, Errors: map[string]string{reasonBlockID: problem},
		})
		return
	}
	user := ic.User
	n.background(ctx, "reject from Slack", meta.ID, func(ctx context.Context) error {
		return n.decide(ctx, user, meta.ID, false, reason, meta.Channel, meta.TS)
	})
	w.WriteHeader(http.StatusOK)
}

// decide resolves the approval for the Slack user and updates its message.
// What the user must know (not an approver, too late, the prompter rule)
// reaches them as an ephemeral message in the channel; the returned error
// is for the log.
func (n *Notifier) decide(ctx context.Context, user slack.User, id string, approve bool, reason, channel, ts string) error {
	a, err := n.o.Resolver.Get(ctx, id)
	if err != nil {
		n.tell(ctx, channel, user.ID, err)
		return internalOnly(err)
	}
	if a.State != store.ApprovalPending {
		n.ephemeral(ctx, channel, user.ID, tooLate(a))
		return n.refresh(ctx, a, channel, ts)
	}
	who, err := n.users.clicker(ctx, user, a.Approvers)
	if err != nil {
		n.ephemeral(ctx, channel, user.ID, "agentgate could not look you up in Slack, so nothing was recorded. Try again in a minute.")
		return fmt.Errorf("describe clicker %s: %w", user.ID, err)
	}
	resolved, err := n.o.Resolver.Resolve(ctx, who, id, approve, reason)
	if apperr.KindOf(err) == apperr.KindConflict {
		if cur, gerr := n.o.Resolver.Get(ctx, id); gerr == nil && cur.State != store.ApprovalPending {
			n.ephemeral(ctx, channel, user.ID, tooLate(cur))
			return n.refresh(ctx, cur, channel, ts)
		}
	}
	if err != nil {
		n.tell(ctx, channel, user.ID, err)
		return internalOnly(err)
	}
	return n.refresh(ctx, resolved, channel, ts)
}

// tell shows the user why their click did nothing: the typed message of
// a refusal, a generic one for internal errors.
func (n *Notifier) tell(ctx context.Context, channel, user string, err error) {
	msg := "agentgate could not record your decision. Try again, or use the API or the CLI."
	if apperr.KindOf(err) != apperr.KindInternal {
		msg = ":no_entry: " + escape(apperr.PublicMessage(err), 2000)
	}
	n.ephemeral(ctx, channel, user, msg)
}

// ephemeral shows text to one user in a channel. Failures are logged.
func (n *Notifier) ephemeral(ctx context.Context, channel, user, text string) {
	if channel == "" {
		n.o.Logger.WarnContext(ctx, "slack: no channel to answer the user in", "user", user, "text", text)
		return
	}
	if _, err := n.api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false)); err != nil {
		n.o.Logger.WarnContext(ctx, "slack: chat.postEphemeral failed", "channel", channel, "user", user, "err", err)
	}
}

// tooLate tells a clicker the approval was already resolved, by whom and
// when.
func tooLate(a store.Approval) string {
	s := fmt.Sprintf("Too late: approval `%s` was already %s", escape(a.ID, maxID), escape(string(a.State), fieldLimit))
	if a.ResolvedBy != "" {
		s += " by " + who(a.ResolvedBy)
	}
	if a.ResolvedAt != nil {
		s += " " + slackDate(*a.ResolvedAt)
	}
	return s + "."
}

// internalOnly keeps the errors worth logging: refusals were told to the
// user and are audited by the approval service.
func internalOnly(err error) error {
	if apperr.KindOf(err) == apperr.KindInternal {
		return err
	}
	return nil
}

// displayName names a Slack user in text recorded outside Slack.
func displayName(u slack.User) string {
	name := u.Username
	if name == "" {
		name = u.Name
	}
	if name == "" {
		return u.ID
	}
	return fmt.Sprintf("%s (%s)", name, u.ID)
}

// validID reports whether s can be an approval id taken from a payload.
func validID(s string) bool {
	if s == "" || len(s) > maxID {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > '~' {
			return false
		}
	}
	return true
}
