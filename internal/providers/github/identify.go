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

// actor is who caused an event, as a principal.
type actor struct {
	principal string
	machine   bool
}

// userActor names a user; ok is false when the user is absent or has no
// login. A user of type Bot is a machine; its login already ends in [bot].
func userActor(u *gh.User) (actor, bool) {
	login := strings.TrimSpace(u.GetLogin())
	if login == "" {
		return actor{}, false
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
func runActor(run *gh.WorkflowRun, sender *gh.User) (actor, error) {
	return firstUser("workflow_run.triggering_actor, workflow_run.actor and sender",
		run.GetTriggeringActor(), run.GetActor(), sender)
}

// deploymentActor is the principal of a deployment: the App that created it
// when that is not GitHub Actions itself ("github-app:<slug>"), else its
// creator, else the delivery's sender.
func deploymentActor(d *gh.Deployment, via *gh.App, sender *gh.User) (actor, error) {
	if slug := strings.TrimSpace(via.GetSlug()); slug != "" && slug != githubActionsSlug {
		return actor{principal: "github-app:" + slug, machine: true}, nil
	}
	return firstUser("deployment.creator and sender", d.GetCreator(), sender)
}
