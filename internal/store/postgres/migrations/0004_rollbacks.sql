-- Rollback engine state: error-rate watches of deployments and the
-- rollbacks they (or people) request. Each row's body is the JSON of a
-- rollback.Watch or rollback.Rollback; the other columns copy what the
-- queries and the uniqueness rules need.
CREATE TABLE rollback_watches (
	id TEXT PRIMARY KEY,
	deployment_id TEXT NOT NULL,
	ended INTEGER NOT NULL,
	next_at_us BIGINT NOT NULL,
	body TEXT NOT NULL
);
-- At most one live watch per deployment.
CREATE UNIQUE INDEX rollback_watches_live ON rollback_watches (deployment_id) WHERE ended = 0;
CREATE INDEX rollback_watches_due ON rollback_watches (ended, next_at_us);

CREATE TABLE rollbacks (
	id TEXT PRIMARY KEY,
	key TEXT NOT NULL,
	state TEXT NOT NULL,
	created_at_us BIGINT NOT NULL,
	body TEXT NOT NULL
);
-- At most one active (pending or running) rollback per target key.
CREATE UNIQUE INDEX rollbacks_active_key ON rollbacks (key) WHERE state IN ('pending', 'running');
CREATE INDEX rollbacks_state ON rollbacks (state, created_at_us);
