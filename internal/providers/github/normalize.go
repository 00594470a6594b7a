package github

import (
	"strconv"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/providers"
)

// Handle keys (see the package documentation).
const (
	handleEvent              = "event"
	handleInstallationID     = "installation_id"
	handleRunID              = "run_id"
	handleRunAttempt         = "run_attempt"
	handleHeadSHA            = "head_sha"
	handleHTMLURL            = "html_url"
	handleWorkflow           = "workflow"
	handleWorkflowPath       = "workflow_path"
	handleJobID              = "job_id"
	handleDeploymentID       = "deployment_id"
	handleDeploymentStatusID = "deployment_status_id"
	handleCallbackURL        = "deployment_callback_url"
	handleEnvironment        = "environment"
	handleCreator            = "creator"
	// handleAttributeViaRun marks a GITHUB_TOKEN deployment whose run's
	// actor Resolve must look up before the event is decided.
	handleAttributeViaRun = "attribute_via_run"
	// labelToken names the GITHUB_TOKEN identity a change was made with.
	labelToken = "github_token_identity"
)

// Event actions of this provider that are not GitHub's own words.
const (
	actionFailed   = "failed"
	actionInactive = "inactive"
)

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
	if id != 0 {
		f[k] = strconv.FormatInt(id, 10)
	}
}

func (f fields) setBool(k string, b *bool) {
	if b != nil {
		f[k] = strconv.FormatBool(*b)
	}
}

// orNil returns nil for an empty map, so that golden files stay small.
func (f fields) orNil() map[string]string {
	if len(f) == 0 {
		return nil
	}
	return f
}

// base starts an event with the repository and the actor.
func base(name string, repo *gh.Repository, installation *gh.Installation, a actor) (event.Event, fields, error) {
	full := strings.TrimSpace(repo.GetFullName())
	if full == "" {
		return event.Event{}, nil, apperr.Invalid("invalid %s payload: repository.full_name is missing", name)
	}
	h := fields{handleEvent: name}
	h.setID(handleInstallationID, installation.GetID())
	return event.Event{
		Provider:  Name,
		Repo:      full,
		Principal: a.principal,
		Initiator: a.initiator,
		Machine:   a.machine,
	}, h, nil
}

// branchRef turns a head_branch into a ref.
func branchRef(branch string) string {
	if branch = strings.TrimSpace(branch); branch == "" {
		return ""
	}
	return "refs/heads/" + branch
}

// workflowRun normalizes workflow_run: requested starts a build (the event
// that is decided and enforced), in_progress is a report, completed ends it.
func workflowRun(e *gh.WorkflowRunEvent) (*event.Event, error) {
	var phase event.Phase
	switch e.GetAction() {
	case "requested":
		phase = event.PhaseStart
	case "in_progress":
		phase = event.PhaseReport
	case "completed":
		phase = event.PhaseEnd
	default:
		return nil, nil
	}
	run := e.GetWorkflowRun()
	if run == nil {
		return nil, apperr.Invalid("invalid workflow_run payload: workflow_run is missing")
	}
	a, err := runActor(run, e.GetSender())
	if err != nil {
		return nil, err
	}
	ev, h, err := base(eventWorkflowRun, e.GetRepo(), e.GetInstallation(), a)
	if err != nil {
		return nil, err
	}
	ev.Kind, ev.Action, ev.Phase = event.KindBuild, e.GetAction(), phase
	ev.Ref, ev.SHA = branchRef(run.GetHeadBranch()), run.GetHeadSHA()
	ev.Trigger = trailerTrigger(run.GetHeadCommit().GetMessage())

	workflow := e.GetWorkflow().GetName()
	if workflow == "" {
		workflow = run.GetName()
	}
	h.setID(handleRunID, run.GetID())
	h.setID(handleRunAttempt, int64(run.GetRunAttempt()))
	h.set(handleHeadSHA, run.GetHeadSHA())
	h.set(handleHTMLURL, run.GetHTMLURL())
	h.set(handleWorkflow, workflow)
	h.set(handleWorkflowPath, e.GetWorkflow().GetPath())
	ev.Handles = h

	l := fields{}
	l.set("trigger_event", run.GetEvent())
	l.set("workflow", workflow)
	l.set("conclusion", run.GetConclusion())
	if head := run.GetHeadRepository().GetFullName(); head != "" && head != ev.Repo {
		l.set("head_repository", head)
	}
	ev.Labels = l.orNil()
	return &ev, nil
}

// workflowJob normalizes workflow_job: every governed action is a report;
// a completed job carries its cost.
func (p *Provider) workflowJob(e *gh.WorkflowJobEvent) (*event.Event, error) {
	switch e.GetAction() {
	case "queued", "in_progress", "completed":
	default:
		return nil, nil
	}
	job := e.GetWorkflowJob()
	if job == nil {
		return nil, apperr.Invalid("invalid workflow_job payload: workflow_job is missing")
	}
	a, err := firstUser("sender", e.GetSender())
	if err != nil {
		return nil, err
	}
	ev, h, err := base(eventWorkflowJob, e.GetRepo(), e.GetInstallation(), a)
	if err != nil {
		return nil, err
	}
	ev.Kind, ev.Action, ev.Phase = event.KindBuild, e.GetAction(), event.PhaseReport
	ev.Ref, ev.SHA = branchRef(job.GetHeadBranch()), job.GetHeadSHA()
	if e.GetAction() == "completed" {
		ev.Cost = jobCost(job, p.rates)
	}

	h.setID(handleRunID, job.GetRunID())
	h.setID(handleRunAttempt, job.GetRunAttempt())
	h.setID(handleJobID, job.GetID())
	h.set(handleHeadSHA, job.GetHeadSHA())
	h.set(handleHTMLURL, job.GetHTMLURL())
	h.set(handleWorkflow, job.GetWorkflowName())
	ev.Handles = h

	l := fields{}
	l.set("job", job.GetName())
	l.set("workflow", job.GetWorkflowName())
	l.set("runner_labels", strings.Join(job.Labels, ","))
	l.set("runner_name", job.GetRunnerName())
	l.set("runner_group", job.GetRunnerGroupName())
	l.set("conclusion", job.GetConclusion())
	ev.Labels = l.orNil()
	return &ev, nil
}

// deploymentBase starts a deploy event from a deployment.
func deploymentBase(name string, d *gh.Deployment, env *envelope, repo *gh.Repository, inst *gh.Installation, sender *gh.User) (event.Event, fields, fields, error) {
	var via *gh.App
	if env.Deployment != nil {
		via = env.Deployment.PerformedViaGitHubApp
	}
	a, err := deploymentActor(d, via, env.WorkflowRun, sender)
	if err != nil {
		return event.Event{}, nil, nil, err
	}
	ev, h, err := base(name, repo, inst, a)
	if err != nil {
		return event.Event{}, nil, nil, err
	}
	ev.Kind = event.KindDeploy
	ev.Environment = providers.Clip(strings.TrimSpace(d.GetEnvironment()), maxField)
	ev.Ref, ev.SHA = strings.TrimSpace(d.GetRef()), strings.TrimSpace(d.GetSHA())
	ev.Trigger = payloadTrigger(d.Payload)

	h.setID(handleDeploymentID, d.GetID())
	h.set(handleCreator, d.GetCreator().GetLogin())
	runID := env.WorkflowRun.GetID()
	h.setID(handleRunID, runID)
	workflow := env.Workflow.GetName()
	if workflow == "" {
		workflow = env.WorkflowRun.GetName()
	}
	h.set(handleWorkflow, workflow)
	h.set(handleWorkflowPath, env.Workflow.GetPath())

	l := fields{}
	l.set("task", d.GetTask())
	if a.token != "" {
		// Made with the run's GITHUB_TOKEN: decided as the run's actor.
		l.set(labelToken, a.token)
	}
	if a.viaRun {
		h.set(handleAttributeViaRun, "true")
	}
	if env.Deployment != nil {
		l.setBool("transient_environment", env.Deployment.TransientEnvironment)
		l.setBool("production_environment", env.Deployment.ProductionEnvironment)
	}
	return ev, h, l, nil
}

// deploymentProtectionRule normalizes a deployment protection rule request:
// the gate of a job that deploys to an environment using this App as a
// custom protection rule. It waits for the callback Enforce posts.
func deploymentProtectionRule(e *gh.DeploymentProtectionRuleEvent, env *envelope) (*event.Event, error) {
	if e.GetAction() != "requested" {
		return nil, nil
	}
	callback := strings.TrimSpace(e.GetDeploymentCallbackURL())
	environment := strings.TrimSpace(e.GetEnvironment())
	if callback == "" || environment == "" {
		return nil, apperr.Invalid("invalid deployment_protection_rule payload: environment and deployment_callback_url are required")
	}
	d := e.GetDeployment()
	if d == nil {
		d = &gh.Deployment{}
	}
	ev, h, l, err := deploymentBase(eventDeploymentProtectionRule, d, env, e.GetRepo(), e.GetInstallation(), e.GetSender())
	if err != nil {
		return nil, err
	}
	ev.Action, ev.Phase = "requested", event.PhaseStart
	ev.Environment = providers.Clip(environment, maxField)
	// The top-level ref is fully qualified (refs/heads/main), like the refs
	// of workflow runs; the deployment's may be a bare branch name.
	if ref := strings.TrimSpace(env.Ref); ref != "" {
		ev.Ref = ref
	}
	if sha := strings.TrimSpace(env.SHA); sha != "" {
		ev.SHA = sha
	}
	h.set(handleCallbackURL, callback)
	h.set(handleEnvironment, environment)
	if h[handleRunID] == "" {
		h.set(handleRunID, runIDFromURL(callback))
	}
	ev.Handles = h
	l.set("trigger_event", e.GetEvent())
	ev.Labels = l.orNil()
	return &ev, nil
}

// deployment normalizes deployment.created: the start of a deployment to an
// environment. It is not enforced (the protection rule is the gate); it lets
// the policy take an environment lease.
func deployment(e *gh.DeploymentEvent, env *envelope) (*event.Event, error) {
	if env.Action != "created" {
		return nil, nil
	}
	d := e.GetDeployment()
	if d == nil {
		return nil, apperr.Invalid("invalid deployment payload: deployment is missing")
	}
	if env.WorkflowRun == nil {
		env.WorkflowRun = e.GetWorkflowRun()
	}
	if env.Workflow == nil {
		env.Workflow = e.GetWorkflow()
	}
	ev, h, l, err := deploymentBase(eventDeployment, d, env, e.GetRepo(), e.GetInstallation(), e.GetSender())
	if err != nil {
		return nil, err
	}
	ev.Action, ev.Phase = "created", event.PhaseStart
	// The protection rule, not this event, holds the deployment.
	ev.NoHold = true
	h.set(handleEnvironment, ev.Environment)
	ev.Handles, ev.Labels = h, l.orNil()
	return &ev, nil
}

// deploymentStatus normalizes deployment_status.created by state: success
// reports a successful deployment (the history rollback uses), failure and
// error report a failed one, inactive ends it (releasing an ephemeral
// environment's lease). Other states are not governed.
func deploymentStatus(e *gh.DeploymentStatusEvent, env *envelope) (*event.Event, error) {
	if env.Action != "created" {
		return nil, nil
	}
	st := e.GetDeploymentStatus()
	var action string
	phase := event.PhaseReport
	switch st.GetState() {
	case "success":
		action = event.ActionSucceeded
	case "failure", "error":
		action = actionFailed
	case "inactive":
		action, phase = actionInactive, event.PhaseEnd
	default:
		return nil, nil
	}
	d := e.GetDeployment()
	if d == nil {
		return nil, apperr.Invalid("invalid deployment_status payload: deployment is missing")
	}
	ev, h, l, err := deploymentBase(eventDeploymentStatus, d, env, e.GetRepo(), e.GetInstallation(), e.GetSender())
	if err != nil {
		return nil, err
	}
	ev.Action, ev.Phase = action, phase
	if s := strings.TrimSpace(st.GetEnvironment()); s != "" {
		ev.Environment = providers.Clip(s, maxField)
	}
	h.set(handleEnvironment, ev.Environment)
	h.setID(handleDeploymentStatusID, st.GetID())
	if h[handleRunID] == "" {
		h.set(handleRunID, runIDFromURL(st.GetTargetURL()))
	}
	if h[handleRunID] == "" {
		h.set(handleRunID, runIDFromURL(st.GetLogURL()))
	}
	ev.Handles = h
	l.set("state", st.GetState())
	ev.Labels = l.orNil()
	return &ev, nil
}

// runIDFromURL reads the run id of ".../actions/runs/<id>..." (a run's page,
// its log URL, or a protection rule's callback URL); "" if there is none.
func runIDFromURL(u string) string {
	const marker = "/actions/runs/"
	i := strings.Index(u, marker)
	if i < 0 {
		return ""
	}
	rest := u[i+len(marker):]
	n := 0
	for n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || (n < len(rest) && rest[n] != '/' && rest[n] != '?' && rest[n] != '#') {
		return ""
	}
	return rest[:n]
}
