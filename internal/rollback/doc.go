// Package rollback watches error rates after agent deployments and rolls
// back to the previous successful deployment when they spike.
//
// A Watch is opened for a recorded deployment (store.Deployment). The
// leader calls Engine.Tick on a timer; every due watch runs its PromQL
// query through a Querier, and the pure function Step decides from the
// reading whether the watch keeps watching, trips (TripAfter consecutive
// breaches of the absolute Threshold or of Baseline × BaselineFactor),
// reports missing data (never a trip, never a silent pass) or passes at
// the end of its window. A tripped watch becomes a Rollback, which an
// Executor for the deployment's provider carries out (GitHub Actions
// re-run or workflow dispatch, GitLab job retry, Argo CD application
// rollback) against the previous successful deployment; the outcome is
// handed to the OnRollback callback for auditing and notification.
//
// Rollbacks also come from Alertmanager webhooks (ParseWebhook, Targets)
// and from SREs (Engine.Request); a rollback already in progress for the
// same provider, repository and environment is not started twice.
//
// The package keeps no state of its own: watches and rollbacks live in a
// Store (MemoryStore is an in-process implementation).
package rollback
