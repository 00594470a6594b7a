package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/promotion"
	"github.com/agentgate/agentgate/internal/store"
)

// Promotion buttons.
const (
	actionPromoConfirm = "agentgate_promotion_confirm"
	actionPromoRefuse  = "agentgate_promotion_refuse"
)

// Promotions reads and decides promotion proposals; promotion.Service is
// one. It applies its own rule of who may (the agent's owner or an admin).
type Promotions interface {
	Proposal(ctx context.Context, id string) (store.Proposal, error)
	Confirm(ctx context.Context, who promotion.Person, id, note string) (store.Proposal, error)
	Refuse(ctx context.Context, who promotion.Person, id, reason string) (store.Proposal, error)
}

var _ Promotions = (*promotion.Service)(nil)

// PromotionProposed posts a proposal waiting for confirmation to the
// default channel, with Confirm and Refuse buttons. It returns at once;
// the post runs in the background.
func (n *Notifier) PromotionProposed(ctx context.Context, p store.Proposal) {
	n.background(ctx, "post a promotion proposal", p.ID, func(ctx context.Context) error {
		_, _, err := n.api.PostMessageContext(ctx, n.o.Channel, slack.MsgOptionText(promotionText(p), false),
			slack.MsgOptionBlocks(promotionBlocks(p, true)...))
		return err
	})
}

func promotionText(p store.Proposal) string {
	return fmt.Sprintf("Promotion proposed: %s from %s to %s", p.AgentName, p.FromTier, p.ToTier)
}

// promotionBlocks shows a proposal: the agent, the tiers, the figures
// behind it, and while pending the buttons.
func promotionBlocks(p store.Proposal, buttons bool) []slack.Block {
	var ev promotion.Evidence
	_ = json.Unmarshal(p.Evidence, &ev)
	r := ev.Record
	lines := []string{fmt.Sprintf(":arrow_up: *Promotion proposed* from the track record: agent `%s` from *%s* to *%s*",
		escape(p.AgentName, fieldLimit), escape(string(p.FromTier), fieldLimit), escape(string(p.ToTier), fieldLimit)),
		fmt.Sprintf("Owner: %s · last %d days: %d decisions, %d denied · age %d days", who(p.Owner), r.Days, r.Decisions, r.Denied, r.AgeDays)}
	for _, c := range ev.Criteria {
		mark := ":white_check_mark:"
		if !c.Met {
			mark = ":x:"
		}
		lines = append(lines, mark+" "+escape(c.Message, 300))
	}
	blocks := []slack.Block{section("agentgate_promotion", strings.Join(lines, "\n"))}
	switch {
	case buttons:
		confirm := slack.NewButtonBlockElement(actionPromoConfirm, p.ID, plain("Confirm", 24))
		confirm.Style = slack.StylePrimary
		refuse := slack.NewButtonBlockElement(actionPromoRefuse, p.ID, plain("Refuse", 24))
		refuse.Style = slack.StyleDanger
		blocks = append(blocks, slack.NewContextBlock("agentgate_promotion_who", md("The agent's owner or an admin decides.")),
			slack.NewActionBlock("agentgate_promotion_actions", confirm, refuse))
	default:
		blocks = append(blocks, section("agentgate_promotion_state", fmt.Sprintf("*%s* by %s",
			escape(orUnknown(string(p.State)), fieldLimit), who(orUnknown(p.ResolvedBy)))))
	}
	return blocks
}

// decidePromotion confirms or refuses a proposal for the Slack user who
// clicked: the agent's owner when their Slack user id, or the e-mail
// Slack verified for them, is the agent's owner; anyone else is refused
// by the promotion service's own rule. The message then shows the result.
func (n *Notifier) decidePromotion(ctx context.Context, user slack.User, id string, confirm bool, channel, ts string) error {
	if n.o.Promotions == nil {
		n.ephemeral(ctx, channel, user.ID, "Promotion from track record is off on this agentgate.")
		return nil
	}
	p, err := n.o.Promotions.Proposal(ctx, id)
	if err != nil {
		n.tell(ctx, channel, user.ID, err)
		return internalOnly(err)
	}
	email, err := n.users.email(ctx, user.ID)
	if err != nil {
		n.ephemeral(ctx, channel, user.ID, "agentgate could not look you up in Slack, so nothing was recorded. Try again in a minute.")
		return fmt.Errorf("users.info %s: %w", user.ID, err)
	}
	person := promotion.Person{Name: user.ID}
	if email != "" {
		person.Name = email
	}
	switch {
	case strings.EqualFold(p.Owner, user.ID):
		person = promotion.Person{Name: user.ID, Role: config.RoleOperator}
	case email != "" && strings.EqualFold(p.Owner, email):
		person = promotion.Person{Name: email, Role: config.RoleOperator}
	}
	var out store.Proposal
	if confirm {
		out, err = n.o.Promotions.Confirm(ctx, person, id, "confirmed in Slack")
	} else {
		out, err = n.o.Promotions.Refuse(ctx, person, id, "refused in Slack by "+displayName(user))
	}
	if apperr.KindOf(err) == apperr.KindConflict {
		if cur, gerr := n.o.Promotions.Proposal(ctx, id); gerr == nil && cur.State != store.ProposalPending {
			n.ephemeral(ctx, channel, user.ID, fmt.Sprintf("Too late: this promotion is already %s.", cur.State))
			out, err = cur, nil
		}
	}
	if err != nil {
		n.tell(ctx, channel, user.ID, err)
		return internalOnly(err)
	}
	if channel == "" || ts == "" {
		return nil
	}
	_, _, _, err = n.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(promotionText(out), false),
		slack.MsgOptionBlocks(promotionBlocks(out, false)...))
	return err
}
