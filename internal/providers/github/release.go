package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Review states of a custom deployment protection rule.
const (
	reviewApproved = "approved"
	reviewRejected = "rejected"
)

// maxComment caps the comment of a protection rule review.
const maxComment = 1024

// Release implements providers.Releaser for a held change:
//
//   - a deployment protection rule is answered through its callback:
//     approved or rejected, with comment (a default one when empty);
//   - a held workflow run (cancelled when it was held) gets an "agentgate"
//     check run, success when approved (re-run it to proceed) and failure
//     when not, or the matching commit status without checks:write.
//
// Other events hold nothing and Release returns providers.ErrNoAction.
func (p *Provider) Release(ctx context.Context, ev event.Event, approved bool, comment string) error {
	comment = strings.TrimSpace(comment)
	switch {
	case isProtectionRule(ev):
		if comment == "" {
			comment = "Rejected in agentgate"
			if approved {
				comment = "Approved in agentgate"
			}
		}
		return p.review(ctx, ev, approved, comment)
	case isRunRequest(ev):
		v := verdict{conclusion: conclusionFailure, status: statusFailure, title: "Rejected in agentgate"}
		lead := "This agent's workflow run was refused in agentgate."
		if approved {
			v = verdict{conclusion: conclusionSuccess, status: statusSuccess, title: "Approved in agentgate"}
			lead = "This agent's workflow run was approved in agentgate; re-run it to proceed."
		}
		v.summary = lead + "\n"
		if comment != "" {
			v.summary += "\n> " + strings.ReplaceAll(comment, "\n", "\n> ") + "\n"
		}
		v.short = providers.JoinShort(v.title, providers.NonEmpty(comment))
		return p.publish(ctx, ev, v)
	}
	return providers.ErrNoAction
}

// review posts a protection rule review to the event's callback URL, which
// must lie below the API root (the token is sent with it).
func (p *Provider) review(ctx context.Context, ev event.Event, approved bool, comment string) error {
	callback := ev.Handles[handleCallbackURL]
	if callback == "" {
		return &providers.PermanentError{Err: errors.New("github: event has no deployment_callback_url handle")}
	}
	if !p.api.underBase(callback) {
		return &providers.PermanentError{Err: fmt.Errorf("github: deployment callback %q is not below the API root %s; refusing to send credentials to it", callback, p.api.base)}
	}
	environment := ev.Handles[handleEnvironment]
	if environment == "" {
		environment = ev.Environment
	}
	if environment == "" {
		return &providers.PermanentError{Err: errors.New("github: event names no environment to review")}
	}
	state := reviewRejected
	if approved {
		state = reviewApproved
	}
	cl, err := p.api.client(ev)
	if err != nil {
		return err
	}
	body := struct {
		EnvironmentName string `json:"environment_name"`
		State           string `json:"state"`
		Comment         string `json:"comment"`
	}{environment, state, providers.TruncateRunes(comment, maxComment)}
	req, err := cl.NewRequest("POST", callback, body)
	if err != nil {
		return &providers.PermanentError{Err: fmt.Errorf("github: deployment callback request: %w", err)}
	}
	_, err = cl.Do(ctx, req, nil)
	return p.api.classify(fmt.Sprintf("%s deployment to %s of %s", state, environment, ev.Repo), err)
}
