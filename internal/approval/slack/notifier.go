package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/gate"
	"github.com/agentgate/agentgate/internal/store"
)

const (
	// workTimeout bounds each piece of background work (a post, a click).
	workTimeout = 30 * time.Second
	// apiTimeout bounds one HTTP call to the Slack Web API.
	apiTimeout = 10 * time.Second
)

// Clicker is the Slack user behind a click or a modal submission, as the
// approval service needs to judge it.
type Clicker struct {
	// UserID is the Slack user id (U… or W…). It is the approver's name:
	// an approvers entry equal to it admits the user.
	UserID string
	// UserName is the Slack username from the payload, for display and
	// for the prompter rule only (it never admits anyone).
	UserName string
	// Email is the user's profile e-mail when the app may read it
	// (users:read.email), for the prompter rule only.
	Email string
	// Groups are the approvers entries naming a Slack user group the user
	// belongs to ("@sre-oncall", "subteam:S0123"), verbatim.
	Groups []string
}

// Resolver reads and resolves approvals. The application adapts
// approval.Service and the store to it.
type Resolver interface {
	// Get returns the approval or an error of kind apperr.KindNotFound.
	Get(ctx context.Context, id string) (store.Approval, error)
	// Resolve approves or rejects the approval on behalf of who, with the
	// approval service's rules and errors (apperr.KindForbidden when who
	// may not, apperr.KindConflict when it is no longer pending).
	Resolve(ctx context.Context, who Clicker, id string, approve bool, reason string) (store.Approval, error)
}

// MessageRefs remembers the Slack message posted for each approval, so
// that it can be updated when the approval is resolved.
type MessageRefs interface {
	// Put records the channel and timestamp of the approval's message.
	Put(ctx context.Context, approvalID, channel, ts string) error
	// Get returns them. An approval without a message gives empty strings
	// and either a nil error or an error of kind apperr.KindNotFound.
	Get(ctx context.Context, approvalID string) (channel, ts string, err error)
}

// AgentLookup returns a registered agent by id.
type AgentLookup func(ctx context.Context, id string) (agents.Agent, error)

// Options configures a Notifier.
type Options struct {
	// BotToken is the bot user OAuth token (xoxb-…). Required.
	BotToken config.Secret
	// SigningSecret verifies interaction requests; without it every
	// request is refused.
	SigningSecret config.Secret
	// Channel is the channel id approvals are posted to when no entry of
	// Channels matches their environment.
	Channel string
	// Channels maps environment globs (path.Match syntax) to channel ids.
	// An exact environment name wins, then the longest matching glob.
	Channels map[string]string
	// DMOwner also sends the agent's owner a direct message when the
	// owner is a Slack user id.
	DMOwner bool
	// APIURL overrides the Slack Web API base URL (tests).
	APIURL string
	// HTTPClient overrides the client used for the Slack Web API.
	HTTPClient *http.Client
	// Resolver reads and resolves approvals. Required.
	Resolver Resolver
	// Refs remembers posted messages. Required.
	Refs MessageRefs
	// AgentLookup fills in the agent's name, type and tier (optional).
	AgentLookup AgentLookup
	// Promotions decides the promotion proposals posted with
	// PromotionProposed (optional: nil when promotion is off).
	Promotions Promotions
	// CompareURL links the ref and commit to a diff view (optional; an
	// empty result means no link).
	CompareURL func(store.Approval) string
	// Logger receives failures of background work (default: discard).
	Logger *slog.Logger
	// Now is the clock for signature windows and caches (default time.Now).
	Now func() time.Time
}

// Notifier posts approvals to Slack, keeps their messages up to date, and
// serves the interactivity endpoint (ServeHTTP).
type Notifier struct {
	o     Options
	api   *slack.Client
	users *directory

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

var (
	_ gate.ApprovalNotifier = (*Notifier)(nil)
	_ http.Handler          = (*Notifier)(nil)
)

// New returns a Notifier.
func New(o Options) (*Notifier, error) {
	if !o.BotToken.IsSet() {
		return nil, errors.New("slack: bot_token is required")
	}
	if o.Channel == "" && len(o.Channels) == 0 {
		return nil, errors.New("slack: channel or channels is required")
	}
	for glob := range o.Channels {
		if _, err := path.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("slack: channels: bad environment glob %q: %w", glob, err)
		}
	}
	if o.Resolver == nil || o.Refs == nil {
		return nil, errors.New("slack: a Resolver and MessageRefs are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: apiTimeout}
	}
	if !o.SigningSecret.IsSet() {
		o.Logger.Warn("slack: no signing_secret: every interaction (button click) will be refused")
	}
	opts := []slack.Option{slack.OptionHTTPClient(o.HTTPClient)}
	if o.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(o.APIURL))
	}
	api := slack.New(o.BotToken.Reveal(), opts...)
	return &Notifier{o: o, api: api, users: newDirectory(api, o.Now)}, nil
}

// ApprovalCreated posts the approval to its environment's channel (and to
// the owner, with DMOwner). It returns at once: the gate calls it while a
// CI system waits for its webhook answer, so the posting runs in the
// background, bounded by its own timeout.
func (n *Notifier) ApprovalCreated(ctx context.Context, a store.Approval) {
	n.background(ctx, "post approval", a.ID, func(ctx context.Context) error { return n.post(ctx, a) })
}

// ApprovalResolved updates the approval's message to show how it was
// resolved and removes its buttons. Call it when an approval is resolved
// outside Slack (API, expiry, kill switch, decommission). It returns at
// once; an approval with no message is ignored.
func (n *Notifier) ApprovalResolved(ctx context.Context, a store.Approval) {
	n.background(ctx, "update approval message", a.ID, func(ctx context.Context) error { return n.refresh(ctx, a, "", "") })
}

// Shutdown stops accepting background work and waits for the work under
// way, or until ctx is done.
func (n *Notifier) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("slack: shutdown: %w", ctx.Err())
	}
}

// background runs fn in a goroutine with a context that keeps ctx's values
// but not its cancellation, bounded by workTimeout. Errors are logged.
func (n *Notifier) background(ctx context.Context, what, approvalID string, fn func(ctx context.Context) error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.o.Logger.WarnContext(ctx, "slack: shutting down, work dropped", "work", what, "approval_id", approvalID)
		return
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), workTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			n.o.Logger.ErrorContext(ctx, "slack: "+what+" failed", "approval_id", approvalID, "err", err)
		}
	}()
}

// post sends the approval message, remembers it, and covers the race with
// a resolution that happened while it was being posted.
func (n *Notifier) post(ctx context.Context, a store.Approval) error {
	channel := n.channelFor(a.Environment)
	if channel == "" {
		n.o.Logger.WarnContext(ctx, "slack: no channel for the approval's environment", "approval_id", a.ID, "environment", a.Environment)
		return nil
	}
	m := n.message(ctx, a)
	ch, ts, err := n.api.PostMessageContext(ctx, channel, slack.MsgOptionText(m.text, false), slack.MsgOptionBlocks(m.blocks(true)...))
	if err != nil {
		return fmt.Errorf("chat.postMessage to %s: %w", channel, err)
	}
	if err := n.o.Refs.Put(ctx, a.ID, ch, ts); err != nil {
		return fmt.Errorf("remember message %s/%s: %w", ch, ts, err)
	}
	if n.o.DMOwner && isSlackUserID(a.Owner) {
		if err := n.dmOwner(ctx, a.Owner, ch, m); err != nil {
			n.o.Logger.WarnContext(ctx, "slack: could not message the agent's owner", "approval_id", a.ID, "owner", a.Owner, "err", err)
		}
	}
	// Resolved (API, expiry) before the message existed: nobody could
	// update it then, so do it now.
	cur, err := n.o.Resolver.Get(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("re-read approval: %w", err)
	}
	if cur.State != store.ApprovalPending {
		return n.update(ctx, cur, ch, ts)
	}
	return nil
}

// dmOwner sends the owner the approval's summary, without buttons.
func (n *Notifier) dmOwner(ctx context.Context, owner, channel string, m message) error {
	im, _, _, err := n.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{owner}})
	if err != nil {
		return fmt.Errorf("conversations.open: %w", err)
	}
	blocks := append(m.blocks(false), ownerNote(channel))
	if _, _, err := n.api.PostMessageContext(ctx, im.ID, slack.MsgOptionText(m.text, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		return fmt.Errorf("chat.postMessage to the owner: %w", err)
	}
	return nil
}

// refresh updates the approval's remembered message, or the given one
// when none is remembered.
func (n *Notifier) refresh(ctx context.Context, a store.Approval, channel, ts string) error {
	ch, t, err := n.o.Refs.Get(ctx, a.ID)
	if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
		return fmt.Errorf("look up message: %w", err)
	}
	if ch == "" || t == "" {
		ch, t = channel, ts
	}
	if ch == "" || t == "" {
		return nil
	}
	return n.update(ctx, a, ch, t)
}

// update rewrites a message for the approval's current state.
func (n *Notifier) update(ctx context.Context, a store.Approval, channel, ts string) error {
	m := n.message(ctx, a)
	withButtons := a.State == store.ApprovalPending
	if _, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(m.text, false), slack.MsgOptionBlocks(m.blocks(withButtons)...)); err != nil {
		return fmt.Errorf("chat.update %s/%s: %w", channel, ts, err)
	}
	return nil
}

// message gathers what the approval's message shows.
func (n *Notifier) message(ctx context.Context, a store.Approval) message {
	m := message{a: a, agent: agents.Agent{ID: a.AgentID, Owner: a.Owner}}
	if n.o.AgentLookup != nil && a.AgentID != "" {
		if ag, err := n.o.AgentLookup(ctx, a.AgentID); err == nil {
			m.agent = ag
		} else {
			n.o.Logger.WarnContext(ctx, "slack: agent lookup failed", "agent_id", a.AgentID, "err", err)
		}
	}
	if n.o.CompareURL != nil {
		m.compareURL = n.o.CompareURL(a)
	}
	m.text = m.fallbackText()
	return m
}

// channelFor routes an environment: an exact Channels key, else the
// longest matching glob (ties broken alphabetically), else Channel.
func (n *Notifier) channelFor(env string) string {
	if ch, ok := n.o.Channels[env]; ok {
		return ch
	}
	globs := make([]string, 0, len(n.o.Channels))
	for g := range n.o.Channels {
		globs = append(globs, g)
	}
	sort.Slice(globs, func(i, j int) bool {
		if len(globs[i]) != len(globs[j]) {
			return len(globs[i]) > len(globs[j])
		}
		return globs[i] < globs[j]
	})
	for _, g := range globs {
		if ok, _ := path.Match(g, env); ok {
			return n.o.Channels[g]
		}
	}
	return n.o.Channel
}

// isSlackUserID reports whether s has the shape of a Slack user id.
func isSlackUserID(s string) bool {
	if len(s) < 3 || len(s) > 32 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	for _, r := range s[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
