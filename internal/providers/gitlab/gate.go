package gitlab

import (
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// GateEvent turns the claims of a verified ID token into the event an
// `admission gate` job asks the gate about: a deploy when the job names an
// environment, else a build; phase start, action "gate"; the principal is
// the user the job runs as (user_login), the repo the project path. Its
// handles (object_kind "id_token", project_id, pipeline_id, job_id) are not
// enforced through the API: the gate endpoint's answer is the enforcement.
func GateEvent(c Claims) event.Event {
	a := loginActor(c.UserLogin)
	ev := event.Event{
		Provider:  Name,
		Kind:      event.KindBuild,
		Action:    actionGate,
		Phase:     event.PhaseStart,
		Repo:      providers.Clip(strings.TrimSpace(c.ProjectPath), maxField),
		SHA:       providers.Clip(strings.TrimSpace(c.SHA), maxField),
		Principal: a.principal,
		Machine:   a.machine,
	}
	switch {
	case strings.HasPrefix(c.RefPath, "refs/"):
		ev.Ref = providers.Clip(c.RefPath, maxField)
	default:
		ev.Ref = qualifyRef(c.Ref, c.RefType == "tag")
	}
	if env := providers.Clip(strings.TrimSpace(c.Environment), maxField); env != "" {
		ev.Kind, ev.Environment = event.KindDeploy, env
	}
	h := fields{handleObjectKind: objectKindIDToken}
	h.set(handleProjectID, c.ProjectID)
	h.set(handlePipelineID, c.PipelineID)
	h.set(handleJobID, c.JobID)
	h.set(handleEnvironment, ev.Environment)
	ev.Handles = h

	l := fields{}
	l.set("deployment_tier", c.DeploymentTier)
	l.set("ref_protected", strconv.FormatBool(c.RefProtected))
	if ev.Environment != "" {
		l.set("environment_protected", strconv.FormatBool(c.EnvironmentProtected))
		l.set("environment_action", c.EnvironmentAction)
	}
	l.set("pipeline_source", c.PipelineSource)
	l.set("namespace_path", c.NamespacePath)
	l.set("runner_id", c.RunnerID)
	l.set("runner_environment", c.RunnerEnvironment)
	ev.Labels = l.orNil()
	return ev
}
