package gitlab

import (
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// serviceAccountPrefix starts the usernames GitLab generates for service
// accounts created without a chosen username. Webhook payloads carry no bot
// or service-account flag, so the username is all there is to go on; a
// service account with a chosen username must be registered as an agent's
// principal to be told from a human.
const serviceAccountPrefix = "service_account_"

// actor is who caused an event, as a principal.
type actor struct {
	principal string
	machine   bool
}

// userActor names a hook's user as "gitlab:<username>". Project and group
// access token users (project_N_bot_*, group_N_bot_*) and generated service
// account names are machines. what names the field for the error.
func userActor(what string, u *hookUser) (actor, error) {
	if u == nil || strings.TrimSpace(u.Username) == "" {
		return actor{}, apperr.Invalid("payload names no actor (%s.username is missing)", what)
	}
	return loginActor(u.Username), nil
}

// loginActor names a GitLab username.
func loginActor(username string) actor {
	username = providers.Clip(strings.TrimSpace(username), maxField-len(Name)-1)
	principal := Name + ":" + username
	return actor{principal: principal, machine: isMachineLogin(username) || event.PrincipalLooksMachine(principal)}
}

// isMachineLogin reports whether a username is one GitLab generates for a
// non-human account: a project or group access token's bot user, or a
// service account with a generated name.
func isMachineLogin(username string) bool {
	return strings.HasPrefix(username, serviceAccountPrefix) || event.PrincipalLooksMachine(Name+":"+username)
}
