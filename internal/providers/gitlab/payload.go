package gitlab

import "encoding/json"

// The structs below hold the fields of GitLab's webhook bodies this provider
// reads (docs: user/project/integrations/webhook_events). Unknown fields are
// ignored; every field may be absent.

// hookUser is the user of a pipeline, job or deployment hook.
type hookUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// hookProject is the project object of a hook.
type hookProject struct {
	ID                int64  `json:"id"`
	PathWithNamespace string `json:"path_with_namespace"`
	WebURL            string `json:"web_url"`
}

// hookCommit is the head commit of a pipeline or job hook. In job hooks its
// id is the pipeline's, not the commit's.
type hookCommit struct {
	ID      json.RawMessage `json:"id"`
	SHA     string          `json:"sha"`
	Message string          `json:"message"`
}

// hookRunner is the runner of a job.
type hookRunner struct {
	ID          int64    `json:"id"`
	Description string   `json:"description"`
	RunnerType  string   `json:"runner_type"`
	Tags        []string `json:"tags"`
}

// hookEnvironment is the environment of a job that deploys or stops one.
type hookEnvironment struct {
	Name           string `json:"name"`
	Action         string `json:"action"`
	DeploymentTier string `json:"deployment_tier"`
}

// variable is one pipeline variable of a pipeline hook.
type variable struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// pipelineHook is object_kind "pipeline".
type pipelineHook struct {
	Attrs struct {
		ID         int64      `json:"id"`
		IID        int64      `json:"iid"`
		Name       string     `json:"name"`
		Ref        string     `json:"ref"`
		Tag        bool       `json:"tag"`
		SHA        string     `json:"sha"`
		Source     string     `json:"source"`
		Status     string     `json:"status"`
		URL        string     `json:"url"`
		Variables  []variable `json:"variables"`
		Duration   *float64   `json:"duration"`
		FinishedAt string     `json:"finished_at"`
	} `json:"object_attributes"`
	MergeRequest *struct {
		IID int64 `json:"iid"`
	} `json:"merge_request"`
	User           *hookUser    `json:"user"`
	Project        *hookProject `json:"project"`
	Commit         *hookCommit  `json:"commit"`
	SourcePipeline *struct {
		Project *hookProject `json:"project"`
	} `json:"source_pipeline"`
}

// jobHook is object_kind "build".
type jobHook struct {
	Ref           string           `json:"ref"`
	Tag           bool             `json:"tag"`
	SHA           string           `json:"sha"`
	BuildID       int64            `json:"build_id"`
	BuildName     string           `json:"build_name"`
	BuildStage    string           `json:"build_stage"`
	BuildStatus   string           `json:"build_status"`
	BuildDuration *float64         `json:"build_duration"`
	FailureReason string           `json:"build_failure_reason"`
	PipelineID    int64            `json:"pipeline_id"`
	ProjectID     int64            `json:"project_id"`
	RetriesCount  int64            `json:"retries_count"`
	User          *hookUser        `json:"user"`
	Commit        *hookCommit      `json:"commit"`
	Project       *hookProject     `json:"project"`
	Runner        *hookRunner      `json:"runner"`
	Tags          []string         `json:"tags"`
	Environment   *hookEnvironment `json:"environment"`
	Repository    *struct {
		Homepage string `json:"homepage"`
	} `json:"repository"`
}

// deploymentHook is object_kind "deployment".
type deploymentHook struct {
	Status                 string       `json:"status"`
	StatusChangedAt        string       `json:"status_changed_at"`
	DeploymentID           int64        `json:"deployment_id"`
	DeployableID           int64        `json:"deployable_id"`
	DeployableURL          string       `json:"deployable_url"`
	Environment            string       `json:"environment"`
	EnvironmentTier        string       `json:"environment_tier"`
	EnvironmentSlug        string       `json:"environment_slug"`
	EnvironmentExternalURL string       `json:"environment_external_url"`
	Ref                    string       `json:"ref"`
	SHA                    string       `json:"sha"`
	ShortSHA               string       `json:"short_sha"`
	CommitURL              string       `json:"commit_url"`
	User                   *hookUser    `json:"user"`
	Project                *hookProject `json:"project"`
}
