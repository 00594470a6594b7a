// Package wfwatch gives back the running-workflow leases of Argo Workflows
// that have finished.
//
// The admission webhook (package argo) charges an agent's Workflow creation
// against the concurrent_workflows quota: a lease keyed
// "<namespace>/<name>". The cluster never tells the webhook when that
// Workflow ends, so a Watcher watches Workflows (workflows.argoproj.io/v1alpha1)
// with a client-go informer and releases the lease, through the gate, when
// a Workflow's status.phase becomes Succeeded, Failed or Error, or when it
// is deleted. Releases are by key, whoever holds the lease, idempotent and
// audited (audit kind "release"), so every replica may run a Watcher.
//
// A reconcile pass every Options.Resync compares the leases held with the
// Workflows in the informer's cache: a lease whose Workflow is finished is
// released; one whose Workflow does not exist in a watched namespace on two
// passes in a row (the Workflow was refused after admission by another
// webhook, or deleted while no watch ran) is released as orphaned. Two
// passes keep a Workflow that was admitted but is not yet in the cache from
// losing its lease. Without a Watcher the lease's TTL (activeDeadlineSeconds
// plus a grace, or the quota's ttl) is the backstop.
//
// The informer keeps only what it needs of each Workflow (name, namespace,
// uid, status.phase and status.finishedAt) to bound its memory on clusters
// with large Workflow statuses.
package wfwatch
