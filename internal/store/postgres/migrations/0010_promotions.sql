-- Promotion proposals from the track-record job. Each row's body is the
-- JSON of a store.Proposal; the other columns copy what the queries and
-- the uniqueness rule need.
CREATE TABLE promotion_proposals (
	id TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL,
	state TEXT NOT NULL,
	created_at_us BIGINT NOT NULL,
	body TEXT NOT NULL
);
-- At most one pending proposal per agent.
CREATE UNIQUE INDEX promotion_proposals_pending ON promotion_proposals (agent_id) WHERE state = 'pending';
CREATE INDEX promotion_proposals_state ON promotion_proposals (state, created_at_us);
