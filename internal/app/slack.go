package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/approval"
	slackui "github.com/agentgate/agentgate/internal/approval/slack"
	"github.com/agentgate/agentgate/internal/promotion"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/store"
)

// slackResolver lets Slack clicks resolve approvals through the approval
// service: the clicker's Slack user id is the approver name, their user
// groups may admit them, and their e-mail and user name count for the
// prompter rule.
type slackResolver struct{ a *App }

var _ slackui.Resolver = slackResolver{}

func (r slackResolver) Get(ctx context.Context, id string) (store.Approval, error) {
	return r.a.Store.GetApproval(ctx, id)
}

func (r slackResolver) Resolve(ctx context.Context, c slackui.Clicker, id string, approve bool, reason string) (store.Approval, error) {
	who := approval.Approver{Name: c.UserID, Groups: c.Groups, Aliases: []string{c.Email, c.UserName}}
	return r.a.Approvals.Resolve(ctx, who, id, approve, reason)
}

// slackRefs keeps posted messages in the store, so any replica can update
// them.
type slackRefs struct{ st store.Store }

var _ slackui.MessageRefs = slackRefs{}

func (r slackRefs) Put(ctx context.Context, approvalID, channel, ts string) error {
	return r.st.SetApprovalMessage(ctx, approvalID, channel, ts)
}

func (r slackRefs) Get(ctx context.Context, approvalID string) (string, string, error) {
	ch, ts, err := r.st.ApprovalMessage(ctx, approvalID)
	if apperr.KindOf(err) == apperr.KindNotFound {
		return "", "", nil
	}
	return ch, ts, err
}

// newSlack builds the Slack front end when slack.bot_token is set.
func (a *App) newSlack(log *slog.Logger) (*slackui.Notifier, error) {
	c := a.Config.Slack
	if !c.BotToken.IsSet() {
		return nil, nil
	}
	apiURL := c.APIURL
	if apiURL != "" && !strings.HasSuffix(apiURL, "/") {
		apiURL += "/" // slack-go appends method names directly
	}
	n, err := slackui.New(slackui.Options{
		BotToken: c.BotToken, SigningSecret: c.SigningSecret, Channel: c.Channel, Channels: c.Channels,
		DMOwner: c.DMOwner, APIURL: apiURL, Resolver: slackResolver{a: a}, Refs: slackRefs{st: a.Store},
		CompareURL:  a.commitURL,
		AgentLookup: func(ctx context.Context, id string) (agents.Agent, error) { return a.Store.GetAgent(ctx, id) },
		Promotions:  slackPromotions(a.Promotion),
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	return n, nil
}

// commitURL links an approval's commit on its CI system's web UI, so a
// reviewer sees the change: the provider's link (providers.CommitLinker),
// empty when it has no such page.
func (a *App) commitURL(ap store.Approval) string {
	p, ok := a.providers.Get(ap.Provider)
	if !ok {
		return ""
	}
	if l, ok := p.(providers.CommitLinker); ok {
		return l.CommitURL(ap.Repo, ap.SHA)
	}
	return ""
}

// slackPromotions lets Slack decide promotions, nil when promotion is off.
func slackPromotions(p *promotion.Service) slackui.Promotions {
	if p == nil {
		return nil
	}
	return p
}
