package gitlab

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Handle keys (see the package documentation).
const (
	handleObjectKind    = "object_kind"
	handleHook          = "hook"
	handleProjectID     = "project_id"
	handlePipelineID    = "pipeline_id"
	handleJobID         = "job_id"
	handleDeploymentID  = "deployment_id"
	handleDeployableID  = "deployable_id"
	handleSHA           = "sha"
	handleRef           = "ref"
	handleSource        = "source"
	handleURL           = "url"
	handleEnvironment   = "environment"
	handleDeployableURL = "deployable_url"
)

// Event actions of this provider.
const (
	actionCreated = "created" // a pipeline or deployment starts
	actionBlocked = "blocked" // a deployment waits for approvals
	actionFailed  = "failed"  // a deployment failed or was cancelled
	actionStopped = "stopped" // an environment was stopped
	actionGate    = "gate"    // an `admission gate` job asks
)

// objectKindIDToken marks events built from ID tokens (GateEvent).
const objectKindIDToken = "id_token"

// maxHandle caps handle and label values (event.Validate allows 4×512).
const maxHandle = 2048

// fields collects handles or labels, leaving out empty values.
type fields map[string]string

func (f fields) set(k, v string) {
	if v = strings.TrimSpace(v); v != "" {
		f[k] = providers.Clip(v, maxHandle)
	}
}

func (f fields) setID(k string, id int64) {
	if id > 0 {
		f[k] = strconv.FormatInt(id, 10)
	}
}

// orNil returns nil for an empty map, so that golden files stay small.
func (f fields) orNil() map[string]string {
	if len(f) == 0 {
		return nil
	}
	return f
}

// base starts an event of a hook with its project and actor.
func base(hook, kind string, repo string, a actor) (event.Event, fields, error) {
	repo = strings.Trim(strings.TrimSpace(repo), "/")
	if repo == "" {
		return event.Event{}, nil, apperr.Invalid("invalid %s payload: project.path_with_namespace is missing", hook)
	}
	if len(repo) > maxField {
		return event.Event{}, nil, apperr.Invalid("invalid %s payload: project.path_with_namespace is longer than %d bytes", hook, maxField)
	}
	return event.Event{Provider: Name, Repo: repo, Principal: a.principal, Machine: a.machine},
		fields{handleObjectKind: kind, handleHook: hook}, nil
}

// qualifyRef turns a pipeline's branch or tag name into a ref; merge
// request refs (refs/merge-requests/N/head) are already qualified.
func qualifyRef(ref string, tag bool) string {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "", strings.HasPrefix(ref, "refs/"):
		return providers.Clip(ref, maxField)
	case tag:
		return providers.Clip("refs/tags/"+ref, maxField)
	}
	return providers.Clip("refs/heads/"+ref, maxField)
}

// pipelinePhase maps a pipeline status to a phase. GitLab sends a pipeline
// hook on every status change, built when the hook runs, so one pipeline
// yields several hooks: the first pre-run status (pending, or created) is
// the start that is decided and enforced; later in-flight statuses are
// reports; finished statuses end it. Unknown statuses are not governed.
func pipelinePhase(status string) (event.Phase, string) {
	switch status {
	case "created", "pending":
		return event.PhaseStart, actionCreated
	case "running", "waiting_for_resource", "preparing", "manual", "scheduled", "canceling":
		return event.PhaseReport, status
	case "success", "failed", "canceled", "skipped":
		return event.PhaseEnd, status
	}
	return "", ""
}

// pipeline normalizes a pipeline hook.
func (p *Provider) pipeline(hook string, body []byte) ([]event.Event, error) {
	var hk pipelineHook
	if err := decode(hook, body, &hk); err != nil {
		return nil, err
	}
	at := hk.Attrs
	phase, action := pipelinePhase(at.Status)
	if phase == "" {
		return nil, nil
	}
	if at.ID <= 0 {
		return nil, apperr.Invalid("invalid %s payload: object_attributes.id is missing", hook)
	}
	a, err := userActor("user", hk.User)
	if err != nil {
		return nil, err
	}
	ev, h, err := base(hook, kindPipeline, projectPath(hk.Project, ""), a)
	if err != nil {
		return nil, err
	}
	ev.Kind, ev.Phase, ev.Action = event.KindBuild, phase, action
	ev.Ref, ev.SHA = qualifyRef(at.Ref, at.Tag), providers.Clip(strings.TrimSpace(at.SHA), maxField)
	message := ""
	if hk.Commit != nil {
		message = hk.Commit.Message
	}
	ev.Trigger = pipelineTrigger(at.Variables, message)

	if hk.Project != nil {
		h.setID(handleProjectID, hk.Project.ID)
	}
	h.setID(handlePipelineID, at.ID)
	h.set(handleSHA, at.SHA)
	h.set(handleRef, at.Ref)
	h.set(handleSource, at.Source)
	h.set(handleURL, at.URL)
	ev.Handles = h

	l := fields{}
	l.set("status", at.Status)
	l.set("pipeline_source", at.Source)
	l.set("pipeline_name", at.Name)
	if hk.MergeRequest != nil {
		l.setID("merge_request_iid", hk.MergeRequest.IID)
	}
	if sp := hk.SourcePipeline; sp != nil && sp.Project != nil {
		l.set("upstream_project", sp.Project.PathWithNamespace)
	}
	ev.Labels = l.orNil()
	return []event.Event{ev}, nil
}

// job normalizes a job hook: a finished job is a build report carrying its
// cost; a successful job that stops an environment also ends it; a job
// that deploys to an environment and waits as "manual" (the state of a job
// whose deployment is blocked for approvals) starts a blocked deployment.
func (p *Provider) job(hook string, body []byte) ([]event.Event, error) {
	var hk jobHook
	if err := decode(hook, body, &hk); err != nil {
		return nil, err
	}
	env := hk.Environment
	if env == nil {
		env = &hookEnvironment{}
	}
	envName := providers.Clip(strings.TrimSpace(env.Name), maxField)
	switch hk.BuildStatus {
	case "success", "failed", "canceled":
	case "manual":
		if envName == "" || env.Action != "start" {
			return nil, nil
		}
	default:
		return nil, nil
	}
	if hk.BuildID <= 0 {
		return nil, apperr.Invalid("invalid %s payload: build_id is missing", hook)
	}
	a, err := userActor("user", hk.User)
	if err != nil {
		return nil, err
	}
	homepage := ""
	if hk.Repository != nil {
		homepage = hk.Repository.Homepage
	}
	ev, h, err := base(hook, kindBuild, projectPath(hk.Project, homepage), a)
	if err != nil {
		return nil, err
	}
	ev.Ref, ev.SHA = qualifyRef(hk.Ref, hk.Tag), providers.Clip(strings.TrimSpace(hk.SHA), maxField)
	if hk.Commit != nil {
		ev.Trigger = pipelineTrigger(nil, hk.Commit.Message)
	}
	projectID := hk.ProjectID
	if projectID <= 0 && hk.Project != nil {
		projectID = hk.Project.ID
	}
	h.setID(handleProjectID, projectID)
	h.setID(handlePipelineID, hk.PipelineID)
	h.setID(handleJobID, hk.BuildID)
	h.set(handleSHA, hk.SHA)
	h.set(handleRef, hk.Ref)

	l := fields{}
	l.set("job", hk.BuildName)
	l.set("stage", hk.BuildStage)
	l.set("status", hk.BuildStatus)
	tags := hk.Tags
	if hk.Runner != nil {
		tags = append(append([]string{}, hk.Runner.Tags...), hk.Tags...)
		l.set("runner_tags", strings.Join(hk.Runner.Tags, ","))
		l.set("runner_type", hk.Runner.RunnerType)
		l.setID("runner_id", hk.Runner.ID)
	}
	if hk.BuildStatus == "failed" {
		l.set("failure_reason", hk.FailureReason)
	}
	if hk.RetriesCount > 0 {
		l.setID("retries_count", hk.RetriesCount)
	}
	l.set("environment", envName)
	l.set("environment_action", env.Action)
	l.set("deployment_tier", env.DeploymentTier)

	if hk.BuildStatus == "manual" {
		ev.Kind, ev.Phase, ev.Action, ev.Environment = event.KindDeploy, event.PhaseStart, actionBlocked, envName
		h.setID(handleDeployableID, hk.BuildID)
		h.set(handleEnvironment, envName)
		ev.Handles, ev.Labels = h, l.orNil()
		return []event.Event{ev}, nil
	}
	ev.Kind, ev.Phase, ev.Action = event.KindBuild, event.PhaseReport, hk.BuildStatus
	ev.Cost = jobCost(hk.BuildDuration, tags, p.rates)
	ev.Handles, ev.Labels = h, l.orNil()
	out := []event.Event{ev}
	if hk.BuildStatus == "success" && env.Action == "stop" && envName != "" {
		stop := ev
		stop.Kind, stop.Phase, stop.Action, stop.Environment, stop.Cost = event.KindDeploy, event.PhaseEnd, actionStopped, envName, nil
		sh := fields{}
		for k, v := range h {
			sh[k] = v
		}
		sh.set(handleEnvironment, envName)
		stop.Handles = sh
		out = append(out, stop)
	}
	return out, nil
}

// deploymentPhase maps a deployment status to a phase and action: blocked
// (waiting for approvals) is the approval gate; created and running start a
// deployment (for environment leases); success reports a deployment for the
// history rollbacks use; failed and canceled report a failure. Others (the
// approved and rejected hooks of approvals, skipped) are not governed.
func deploymentPhase(status string) (event.Phase, string) {
	switch status {
	case "blocked":
		return event.PhaseStart, actionBlocked
	case "created", "running":
		return event.PhaseStart, actionCreated
	case "success":
		return event.PhaseReport, event.ActionSucceeded
	case "failed", "canceled":
		return event.PhaseReport, actionFailed
	}
	return "", ""
}

// deployment normalizes a deployment hook.
func (p *Provider) deployment(hook string, body []byte) ([]event.Event, error) {
	var hk deploymentHook
	if err := decode(hook, body, &hk); err != nil {
		return nil, err
	}
	phase, action := deploymentPhase(hk.Status)
	if phase == "" {
		return nil, nil
	}
	environment := providers.Clip(strings.TrimSpace(hk.Environment), maxField)
	if hk.DeploymentID <= 0 || environment == "" {
		return nil, apperr.Invalid("invalid %s payload: deployment_id and environment are required", hook)
	}
	a, err := userActor("user", hk.User)
	if err != nil {
		return nil, err
	}
	ev, h, err := base(hook, kindDeployment, projectPath(hk.Project, ""), a)
	if err != nil {
		return nil, err
	}
	ev.Kind, ev.Phase, ev.Action, ev.Environment = event.KindDeploy, phase, action, environment
	// A created or running deployment is under way: GitLab holds deployments
	// only while blocked, so it takes a lease but never an approval.
	ev.NoHold = action == actionCreated
	sha := strings.TrimSpace(hk.SHA)
	if sha == "" {
		sha = shaFromCommitURL(hk.CommitURL)
	}
	if sha == "" {
		sha = strings.TrimSpace(hk.ShortSHA)
	}
	ev.Ref, ev.SHA = providers.Clip(strings.TrimSpace(hk.Ref), maxField), providers.Clip(sha, maxField)

	if hk.Project != nil {
		h.setID(handleProjectID, hk.Project.ID)
	}
	h.setID(handleDeploymentID, hk.DeploymentID)
	h.setID(handleDeployableID, hk.DeployableID)
	h.setID(handleJobID, hk.DeployableID)
	h.set(handleEnvironment, environment)
	h.set(handleSHA, sha)
	h.set(handleDeployableURL, hk.DeployableURL)
	ev.Handles = h

	l := fields{}
	l.set("status", hk.Status)
	l.set("deployment_tier", hk.EnvironmentTier)
	l.set("environment_slug", hk.EnvironmentSlug)
	l.set("environment_url", hk.EnvironmentExternalURL)
	l.set("status_changed_at", hk.StatusChangedAt)
	ev.Labels = l.orNil()
	return []event.Event{ev}, nil
}

// projectPath is a project's path_with_namespace, else the path of the
// repository homepage (older job hooks carry no project object).
func projectPath(pr *hookProject, homepage string) string {
	if pr != nil && strings.TrimSpace(pr.PathWithNamespace) != "" {
		return pr.PathWithNamespace
	}
	if homepage == "" {
		return ""
	}
	u, err := url.Parse(homepage)
	if err != nil {
		return ""
	}
	return u.Path
}

// shaFromCommitURL reads the 40-hex commit id ending ".../-/commit/<sha>".
func shaFromCommitURL(u string) string {
	i := strings.LastIndex(u, "/commit/")
	if i < 0 {
		return ""
	}
	sha := u[i+len("/commit/"):]
	if len(sha) != 40 && len(sha) != 64 {
		return ""
	}
	for _, c := range sha {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return sha
}
