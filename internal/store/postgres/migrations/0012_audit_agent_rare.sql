-- An agent's records of the rare kinds (kill switches, rollbacks, tier
-- changes, proposals...), found by one seek: the promotion pass asks for
-- each agent's newest kill, rollback and tier change, and through the
-- (agent_id, seq) index a busy agent without one was read record by
-- record. Decisions, nearly all of the log, are left out, so appending a
-- decision costs this index nothing.
CREATE INDEX audit_log_agent_rare ON audit_log (agent_id, kind, seq) WHERE kind <> 'decision';
