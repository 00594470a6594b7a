package slack

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"
)

// Notice is a plain announcement to the approvals channel of an
// environment and, when it is a Slack user id, to the agent's owner: what
// agentgate did on its own (a rollback after an agent's deploy).
type Notice struct {
	Environment string
	Owner       string
	Text        string
}

// Announce posts the notice in the background, like approval messages.
func (n *Notifier) Announce(ctx context.Context, nt Notice) {
	n.background(ctx, "announce", "", func(ctx context.Context) error {
		text := escape(nt.Text, 3000)
		opt := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil))
		if _, _, err := n.api.PostMessageContext(ctx, n.channelFor(nt.Environment), slack.MsgOptionText(text, false), opt); err != nil {
			return fmt.Errorf("chat.postMessage: %w", err)
		}
		if !isSlackUserID(nt.Owner) {
			return nil
		}
		im, _, _, err := n.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{nt.Owner}})
		if err != nil {
			return fmt.Errorf("conversations.open: %w", err)
		}
		if _, _, err := n.api.PostMessageContext(ctx, im.ID, slack.MsgOptionText(text, false), opt); err != nil {
			return fmt.Errorf("chat.postMessage to the owner: %w", err)
		}
		return nil
	})
}
