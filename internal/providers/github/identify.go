package github

import (
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/apperr"
)

// githubActionsSlug is the App GitHub Actions acts as. Deployments created
// for jobs that name an environment report it as performed_via_github_app
// whoever triggered the workflow, so it names the conduit, not the actor.
const githubActionsSlug = "github-actions"

// userTypeBot is the "type" GitHub gives bot accounts (App bots such as
// dependabot[bot] or my-app[bot]).
const userTypeBot = "Bot"

// tokenIdentities are the logins GitHub gives what a workflow does with its
// GITHUB_TOKEN (a deployment a step creates through the API, a Pages
// deployment). They name the token, not the person or agent whose run it
// is: such a change is attributed to the run's triggering actor.
var tokenIdentities = []string{"github-actions[bot]", "github-pages[bot]"}

// copilotLogin is the login of GitHub's Copilot coding agent (a Bot
// user) on the pull requests it opens and the runs they start. The agent's
// App, copilot-swe-agent, names the same agent where it appears instead
// (its bot user copilot-swe-agent[bot], performed_via_github_app): both
// are attributed to github:Copilot, the one principal a Copilot agent is
// registered with. (Copilot[bot] is another App, GitHub's Copilot chat
// integration, and is left as it is.)
const (
	copilotLogin    = "Copilot"
	copilotAppSlug  = "copilot-swe-agent"
	copilotAppLogin = copilotAppSlug + "[bot]"
)

// isTokenIdentity reports whether u is a GITHUB_TOKEN identity.
func isTokenIdentity(u *gh.User) bool {
	login := strings.ToLower(strings.TrimSpace(u.GetLogin()))
	for _, t := range tokenIdentities {
		if login == t {
			return true
		}
	}
	return false
}

// actor is who caused an event, as a principal.
type actor struct {
	principal string
	machine   bool
	// viaRun says the principal is a GITHUB_TOKEN identity whose run the
	// payload does not carry: the run's triggering actor must be looked up
	// (Resolve) before the event is decided.
	viaRun bool
	// token is the GITHUB_TOKEN identity the change was made with, when
	// it was attributed to the run's actor instead.
	token string
	// initiator is whom the actor acts for, when GitHub says so.
	initiator string
}

// userActor names a user; ok is false when the user is absent or has no
// login. A user of type Bot is a machine; its login already ends in [bot].
func userActor(u *gh.User) (actor, bool) {
	login := strings.TrimSpace(u.GetLogin())
	if login == "" {
		return actor{}, false
	}
	if strings.EqualFold(login, copilotAppLogin) {
		return actor{principal: "github:" + copilotLogin, machine: true}, true
	}
	return actor{principal: "github:" + login, machine: u.GetType() == userTypeBot}, true
}

// firstUser returns the first present user of candidates, in order. what
// names the candidates for the error when none is present.
func firstUser(what string, candidates ...*gh.User) (actor, error) {
	for _, u := range candidates {
		if a, ok := userActor(u); ok {
			return a, nil
		}
	}
	return actor{}, apperr.Invalid("payload names no actor (%s are all missing or have no login)", what)
}

// runActor is the principal of a workflow run or job: the user who
// triggered this attempt (triggering_actor, which differs from actor on a
// re-run), else the run's actor, else the delivery's sender.
//
// One exception: the first attempt of a run whose actor is a bot (the
// Copilot coding agent, an App) but whose triggering actor is someone else
// is a person approving the bot's run ("Approve and run workflows"): the
// run is the bot's, acting for that person (initiator). A later attempt
// that a person starts is the person's (their re-run of it).
func runActor(run *gh.WorkflowRun, sender *gh.User) (actor, error) {
	by, byOK := userActor(run.GetActor())
	trig, trigOK := userActor(run.GetTriggeringActor())
	if byOK && trigOK && by.machine && !trig.machine && by.principal != trig.principal && run.GetRunAttempt() <= 1 {
		by.initiator = trig.principal
		return by, nil
	}
	return firstUser("workflow_run.triggering_actor, workflow_run.actor and sender",
		run.GetTriggeringActor(), run.GetActor(), sender)
}

// deploymentActor is the principal of a deployment: the App that created it
// when that is not GitHub Actions itself ("github-app:<slug>"; the
// Copilot coding agent's App is github:Copilot), else its
// creator, else the delivery's sender. A deployment created with a
// workflow's GITHUB_TOKEN (creator github-actions[bot] or
// github-pages[bot]) is the run's: its triggering actor (else its actor)
// when the payload carries the run, else to be looked up (viaRun).
func deploymentActor(d *gh.Deployment, via *gh.App, run *gh.WorkflowRun, sender *gh.User) (actor, error) {
	slug := strings.TrimSpace(via.GetSlug())
	if strings.EqualFold(slug, copilotAppSlug) {
		return actor{principal: "github:" + copilotLogin, machine: true}, nil
	}
	if slug != "" && slug != githubActionsSlug {
		return actor{principal: "github-app:" + slug, machine: true}, nil
	}
	creator := d.GetCreator()
	if creator == nil && isTokenIdentity(sender) {
		creator = sender
	}
	if !isTokenIdentity(creator) {
		return firstUser("deployment.creator and sender", creator, sender)
	}
	token := strings.ToLower(strings.TrimSpace(creator.GetLogin()))
	if a, err := runActor(run, nil); err == nil && run != nil {
		a.token = token
		return a, nil
	}
	// Until the run is looked up the change stands as the token's: a
	// machine identity no agent holds, which fails closed.
	return actor{principal: "github:" + token, machine: true, viaRun: true, token: token}, nil
}
