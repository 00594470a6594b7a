-- Deployment history: successful deployments per provider, repo and
-- environment, newest first, for rollbacks.
CREATE TABLE deployments (
	id TEXT PRIMARY KEY,
	provider TEXT NOT NULL,
	repo TEXT NOT NULL,
	environment TEXT NOT NULL,
	sha TEXT NOT NULL,
	ref TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	principal TEXT NOT NULL,
	handles TEXT NOT NULL,
	at_us BIGINT NOT NULL
);
CREATE INDEX deployments_target ON deployments (provider, repo, environment, at_us);
