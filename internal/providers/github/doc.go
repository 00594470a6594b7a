// Package github is the GitHub Actions provider: POST /webhooks/github.
//
// It verifies GitHub's webhook deliveries (X-Hub-Signature-256, an
// HMAC-SHA256 of the raw body under the webhook secret), parses the events
// agentgate governs into event.Event values, and enforces the gate's
// decisions back through GitHub's REST API. It never decides anything.
//
// # Headers
//
//	X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>   (required)
//	X-GitHub-Event:      the event name, e.g. workflow_run         (required)
//	X-GitHub-Delivery:   the delivery GUID, reused on redelivery   (required)
//
// Bodies are JSON (content type application/json); the legacy
// application/x-www-form-urlencoded form (payload=<json>) is accepted too.
//
// # Normalization
//
// Every event has provider "github" and repo "owner/name"
// (repository.full_name). "ref" is refs/heads/<head_branch> for runs and
// jobs, and the deployment's ref as GitHub gives it (a branch, tag or SHA)
// for deployments.
//
//	X-GitHub-Event.action                  kind    phase   action     principal from
//	workflow_run.requested                 build   start   requested  triggering_actor, actor, sender
//	workflow_run.in_progress               build   report  in_progress  (same)
//	workflow_run.completed                 build   end     completed  (same)
//	workflow_job.queued|in_progress        build   report  (action)   sender
//	workflow_job.completed                 build   report  completed  sender; carries the job's cost
//	deployment_protection_rule.requested   deploy  start   requested  deployment app, creator, sender
//	deployment.created                     deploy  start   created    deployment app, creator, sender
//	deployment_status.created, success     deploy  report  succeeded  deployment app, creator, sender
//	deployment_status.created, failure|error deploy report failed     (same)
//	deployment_status.created, inactive    deploy  end     inactive   (same)
//	ping                                   no events, ignored "ping"
//	anything else                          no events, ignored "<event>.<action> is not governed"
//
// Principals are "github:<login>" for users and bots (a bot's login ends in
// "[bot]"; a user of type Bot also sets event.Machine) and
// "github-app:<slug>" for a deployment whose performed_via_github_app is an
// App other than GitHub Actions itself. GitHub Actions creates the
// deployments of jobs that name an environment and always reports itself as
// performed_via_github_app ("github-actions"); it is the conduit, not the
// actor, so for those the deployment's creator is the principal.
//
// The trigger is read from commit trailers of workflow_run.head_commit
// (Agent-Id, Agent-Prompt, Agent-Reasoning, Agent-Triggered-By; source
// "commit-trailer", see trailers.go) and from a deployment's free-form
// payload (agent_id, prompt, reasoning, triggered_by; source
// "deployment-payload"). The workflow_run payload does not carry
// workflow_dispatch inputs, so inputs are not read.
//
// # Handles
//
// Events carry the identifiers enforcement needs: "event" (the
// X-GitHub-Event name), "installation_id" (GitHub App deliveries), "run_id",
// "run_attempt", "head_sha", "html_url", "workflow", "workflow_path",
// "job_id", "deployment_id", "deployment_status_id",
// "deployment_callback_url", "environment", "creator".
//
// # Enforcement
//
// Enforce cancels a refused workflow run and publishes a check run named
// "agentgate" on its head commit (a commit status when the App may not
// write checks), answers deployment protection rules through their
// callback, and does nothing for every other event. Release answers a held
// deployment protection rule. Errors are *providers.PermanentError when
// retrying cannot help; otherwise they are retryable and RetryAfter reports
// how long GitHub asked to wait.
package github
