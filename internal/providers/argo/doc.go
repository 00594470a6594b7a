// Package argo is the Argo provider: the Argo Workflows validating
// admission webhook (POST /argo/admission), the Argo CD PreSync/PostSync
// hook gate (POST /argo/gate, providers.SyncGate) and the Argo CD
// notifications webhook (POST /webhooks/argo, providers.Provider). It
// never decides anything: a Decider (the gate) does.
//
// # Workflows admission
//
// Review (or Handler) answers AdmissionReview v1 requests. Workflow,
// CronWorkflow and WorkflowTemplate (argoproj.io) CREATEs and UPDATEs,
// decoded into the argo-workflows/v3 types, become workflow start events,
// decided, and answered allowed unless the effective outcome is deny or
// approval_required. Admission cannot wait for a human: events carry
// Resubmits, so the answer names the approval and the same spec submitted
// again is admitted once it is approved. Under warn enforcement the reasons
// come back as warnings. Anything else is allowed without a decision, with
// an "ignored" audit annotation: other resources, subresources, DELETE and
// CONNECT, dry-run requests (agentgate charges quotas and records
// decisions: the webhook is sideEffects NoneOnDryRun), the workflow
// controller's own requests, and UPDATEs that change nothing in the spec
// but spec.suspend and spec.shutdown.
//
//	field        value
//	kind         workflow; phase start; action create | update
//	repo         <namespace>/<generateName>, else <namespace>/<name>
//	sha          the spec's SHA-256 (spec_sha256)
//	environment  Options.NamespaceEnvironments of the namespace, if any
//	namespace    request.namespace
//	principal    k8s:<userInfo.username>, Machine for system:serviceaccount:*;
//	             argo:<creator-preferred-username | creator label> when the
//	             request comes from an Argo Workflows server account
//	             (Options.ServerServiceAccounts), which sets them from SSO
//	trigger      annotations agentgate.io/agent-id, prompt, reasoning,
//	             triggered-by (source "annotations")
//	resubmits    true
//	handles      uid, kind, name, generate_name, operation,
//	             service_account_name, template_service_accounts,
//	             active_deadline_seconds, workflow_template_ref, spec_sha256
//	labels       resource_kind, service_account, service_accounts (all, comma
//	             separated), workflow_template_ref, schedule (CronWorkflow),
//	             active_deadline "none" when unset, k8s_username, k8s_groups
//
// The running-workflow leases a Workflow creation takes are released by the
// Workflow watch in package wfwatch.
//
// A CronWorkflow's settings are read from spec.workflowSpec. The delivery
// id is "admission-<request uid>": the kube-apiserver keeps the uid when it
// retries a webhook call, but a client's retry is a new request.
//
// # Argo CD hook gate
//
// GateRequest authenticates the hook Job with the hook token
// (Authorization: Bearer, constant time; none configured refuses all),
// reads the Application named by X-Agentgate-Application ("<app>" or
// "<namespace>/<app>") from the Argo CD API and turns its running sync
// operation into a sync event: phase start, action presync; or, with
// X-Agentgate-Phase: postsync, phase report, action succeeded (deployment
// history, with the history id Argo CD will give the operation). The
// principal is argocd:<initiatedBy.username>, argocd:proj:<p>:role:<r>
// (Machine) for a project token, argocd:automated for the automated sync
// policy. The environment is the agentgate.io/environment annotation of the
// Application, else its destination namespace. The delivery id is
// "<phase>-<app>-<operation start time>", the scope the app.
//
// # Argo CD notifications
//
// Verify checks the same hook token; Parse reads a Notification (the JSON
// a notifications webhook template renders) of a completed operation into
// a sync report: succeeded or failed.
package argo
