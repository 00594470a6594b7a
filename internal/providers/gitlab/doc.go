// Package gitlab is the GitLab CI provider: POST /webhooks/gitlab, and the
// verification of CI/CD ID tokens for the gate endpoint.
//
// It verifies GitLab's webhook deliveries (X-Gitlab-Token, the webhook's
// secret token, compared in constant time), parses the events agentgate
// governs into event.Event values, and enforces the gate's decisions back
// through GitLab's REST API (client-go). It never decides anything.
//
// # Headers
//
//	X-Gitlab-Token:      the webhook's secret token                 (required)
//	X-Gitlab-Event:      Pipeline Hook, Job Hook, Deployment Hook,
//	                     System Hook, ...                           (required)
//	Idempotency-Key:     the delivery id, kept across retries      (one of these
//	X-Gitlab-Event-UUID: the event's id                             two required)
//	X-Gitlab-Instance:   the sending instance (label "instance")
//
// Project and group hooks name the event in X-Gitlab-Event; system hooks
// send "System Hook" with the same bodies, and the body's object_kind
// (pipeline, build, deployment) decides.
//
// # Normalization
//
// Every event has provider "gitlab", repo project.path_with_namespace and
// principal "gitlab:<user.username>"; Machine is set for project and group
// access token users (project_N_bot_*, group_N_bot_*) and generated service
// account names (service_account_*): GitLab's payloads carry no bot flag.
// Pipeline and job refs are qualified (refs/heads/<branch>,
// refs/tags/<tag>, merge request refs as given); a deployment's ref is the
// branch or tag name GitLab gives, which does not say which it is.
//
//	hook (object_kind) status              kind    phase   action
//	pipeline  pending | created            build   start   created    decided; enforced
//	pipeline  running, waiting_for_resource,
//	          preparing, manual, scheduled,
//	          canceling                     build   report  (status)
//	pipeline  success|failed|canceled|skipped build end    (status)
//	build     success|failed|canceled       build   report  (status)   carries the job's cost
//	build     success, environment.action stop  deploy end stopped   (and the report above)
//	build     manual, environment.action start  deploy start blocked enforced (deployment approval)
//	deployment blocked                      deploy  start   blocked    enforced (deployment approval)
//	deployment created | running            deploy  start   created    leases only; not enforced
//	deployment success                      deploy  report  succeeded  deployment history
//	deployment failed | canceled            deploy  report  failed
//	anything else                           no events, ignored "<...> is not governed"
//
// GitLab sends a pipeline hook on every status change, and builds its body
// when the hook runs, so a pipeline yields several hooks. The first pre-run
// status (pending; created when GitLab sends it) is the one start, so that
// builds_per_hour is charged once; running and later statuses never start.
// When GitLab's hook worker runs late, the first hook may already say
// running and the pipeline is then not gated: a hard gate is the
// `admission gate` job (ID token, synchronous).
//
// GitLab sends deployment hooks when a deployment runs, succeeds, fails or
// is cancelled, not when it becomes blocked; a job waiting for deployment
// approvals is in status "manual", so its Job Hook is what starts the
// blocked deployment (the deployment id is looked up when enforcing). A
// Deployment Hook with status blocked is handled the same way should an
// instance send one. Both blocked and created/running are start events of a
// deploy: an ephemeral environment's concurrency lease is keyed by
// repo/environment, so taking it twice holds one lease; a policy that adds a
// rate quota to deploys should charge it on one action only. GitLab has no
// hook for a stopped environment; the successful stop job (a job hook with
// environment.action "stop") ends it.
//
// The trigger of a pipeline comes from its variables AGENT_ID, AGENT_PROMPT,
// AGENT_REASONING and AGENT_TRIGGERED_BY (source "pipeline-variables"),
// else from agent trailers of the head commit's message (source
// "commit-trailer", package trailers).
//
// # Handles
//
// "object_kind", "hook" (the X-Gitlab-Event), "project_id", "pipeline_id",
// "job_id", "deployment_id", "deployable_id" (the deploying job, which a
// rollback re-runs), "sha", "ref", "source", "url", "environment",
// "deployable_url".
//
// # Enforcement
//
// Enforce cancels a refused or held pipeline and sets a commit status
// "agentgate" on it (failed with the reasons, or canceled naming the
// approval), and approves or rejects an agent's blocked deployment as one
// of the protected environment's approvers. Release answers a held
// deployment, or notes the outcome of a held pipeline in a commit status.
// Errors are *providers.PermanentError when retrying cannot help (4xx);
// otherwise they are retryable and carry GitLab's Retry-After or
// RateLimit-Reset (providers.RetryDelayer).
//
// # ID tokens
//
// VerifyIDToken checks a job's ID token against the instance's JWKS
// ({issuer}/oauth/discovery/keys) and GateEvent turns its claims into the
// event the gate endpoint decides on.
package gitlab
