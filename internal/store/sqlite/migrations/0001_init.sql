-- agentgate schema, SQLite dialect. Times are unix microseconds UTC (*_us),
-- JSON is TEXT, booleans are INTEGER 0/1.

CREATE TABLE agents (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	type TEXT NOT NULL,
	owner TEXT NOT NULL,
	capabilities TEXT NOT NULL,
	tier TEXT NOT NULL,
	state TEXT NOT NULL,
	environments TEXT NOT NULL,
	namespaces TEXT NOT NULL,
	principals TEXT NOT NULL,
	labels TEXT NOT NULL,
	expires_at_us INTEGER,
	created_at_us INTEGER NOT NULL,
	updated_at_us INTEGER NOT NULL,
	version INTEGER NOT NULL
);
CREATE INDEX agents_owner ON agents (owner);

-- A principal belongs to at most one agent.
CREATE TABLE agent_principals (
	principal TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE
);
CREATE INDEX agent_principals_agent ON agent_principals (agent_id);

CREATE TABLE tokens (
	hash TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL,
	created_at_us INTEGER NOT NULL,
	expires_at_us INTEGER
);
CREATE INDEX tokens_agent ON tokens (agent_id);

CREATE TABLE kill_switches (
	id TEXT PRIMARY KEY,
	scope TEXT NOT NULL,
	target TEXT NOT NULL,
	reason TEXT NOT NULL,
	source TEXT NOT NULL,
	engaged_by TEXT NOT NULL,
	engaged_at_us INTEGER NOT NULL,
	released_by TEXT NOT NULL,
	released_at_us INTEGER
);
-- At most one active switch per scope and target.
CREATE UNIQUE INDEX kill_switches_active ON kill_switches (scope, target) WHERE released_at_us IS NULL;
CREATE INDEX kill_switches_engaged ON kill_switches (engaged_at_us);

-- Per-agent quota lock rows. SQLite serialises write transactions (BEGIN
-- IMMEDIATE), so it does not lock them; the table keeps both schemas alike.
CREATE TABLE quota_locks (
	agent_id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- One row per (agent, quota): the latest limit and window, and for rate
-- quotas the GCRA theoretical arrival time in unix nanoseconds (exactly the
-- arithmetic of internal/quota; microseconds would drift by rounding).
CREATE TABLE quotas (
	agent_id TEXT NOT NULL,
	name TEXT NOT NULL,
	concurrency INTEGER NOT NULL,
	lim INTEGER NOT NULL,
	window_us INTEGER NOT NULL,
	tat_ns INTEGER NOT NULL,
	PRIMARY KEY (agent_id, name)
) WITHOUT ROWID;

-- Concurrency quota leases.
CREATE TABLE quota_leases (
	agent_id TEXT NOT NULL,
	name TEXT NOT NULL,
	key TEXT NOT NULL,
	expires_at_us INTEGER NOT NULL,
	PRIMARY KEY (agent_id, name, key)
) WITHOUT ROWID;

CREATE TABLE deliveries (
	provider TEXT NOT NULL,
	id TEXT NOT NULL,
	result BLOB,
	created_at_us INTEGER NOT NULL,
	expires_at_us INTEGER NOT NULL,
	PRIMARY KEY (provider, id)
);
CREATE INDEX deliveries_expires ON deliveries (expires_at_us);

CREATE TABLE approvals (
	id TEXT PRIMARY KEY,
	state TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	owner TEXT NOT NULL,
	provider TEXT NOT NULL,
	repo TEXT NOT NULL,
	sha TEXT NOT NULL,
	environment TEXT NOT NULL,
	reason TEXT NOT NULL,
	approvers TEXT NOT NULL,
	event TEXT NOT NULL,
	decision_seq INTEGER NOT NULL,
	created_at_us INTEGER NOT NULL,
	expires_at_us INTEGER NOT NULL,
	resolved_at_us INTEGER,
	resolved_by TEXT NOT NULL,
	resolved_note TEXT NOT NULL
);
CREATE INDEX approvals_created ON approvals (created_at_us);
CREATE INDEX approvals_state ON approvals (state, created_at_us);

-- The hash-chained audit log. Append-only: the code never updates or
-- deletes it. body is the exact canonical JSON that was hashed.
CREATE TABLE audit_log (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL,
	at_us INTEGER NOT NULL,
	kind TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	owner TEXT NOT NULL,
	outcome TEXT NOT NULL,
	provider TEXT NOT NULL,
	hash TEXT NOT NULL,
	body TEXT NOT NULL
);
CREATE INDEX audit_log_agent ON audit_log (agent_id, seq);
CREATE INDEX audit_log_owner ON audit_log (owner, seq);
CREATE INDEX audit_log_at ON audit_log (at_us);

CREATE TABLE costs (
	id TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL,
	agent_type TEXT NOT NULL,
	owner TEXT NOT NULL,
	provider TEXT NOT NULL,
	repo TEXT NOT NULL,
	minutes REAL NOT NULL,
	amount REAL NOT NULL,
	currency TEXT NOT NULL,
	at_us INTEGER NOT NULL
);
CREATE INDEX costs_at ON costs (at_us);

-- Fixed-window counters.
CREATE TABLE counters (
	key TEXT NOT NULL,
	window_start_us INTEGER NOT NULL,
	window_end_us INTEGER NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (key, window_start_us)
) WITHOUT ROWID;
CREATE INDEX counters_end ON counters (window_end_us);

CREATE TABLE leader_leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at_us INTEGER NOT NULL
);
