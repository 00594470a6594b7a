-- Incidents group the automatic rollbacks of one deployment: an alert,
-- its repeats, a flap and a watch on the same spike share one rollback.
-- The body is the JSON of a rollback.Incident; the other columns copy
-- what the queries need. Writes are compare-and-set on version.
CREATE TABLE rollback_incidents (
	key TEXT PRIMARY KEY,
	target_key TEXT NOT NULL,
	firing INTEGER NOT NULL,
	version BIGINT NOT NULL,
	body TEXT NOT NULL
);
CREATE INDEX rollback_incidents_target ON rollback_incidents (target_key, firing);
