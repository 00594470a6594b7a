-- Replicas keep the agent of a principal and an agent's kill switch in
-- memory; a change to agents, principals or kill switches is announced on
-- the channel agentgate_registry, with the schema as payload, so that
-- every replica of this schema forgets what it kept. PostgreSQL delivers a
-- notification when the writing transaction commits, once per transaction.
CREATE FUNCTION agentgate_registry_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('agentgate_registry', TG_TABLE_SCHEMA);
	RETURN NULL;
END
$$;

CREATE TRIGGER agents_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agents
	FOR EACH STATEMENT EXECUTE FUNCTION agentgate_registry_changed();
CREATE TRIGGER agent_principals_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agent_principals
	FOR EACH STATEMENT EXECUTE FUNCTION agentgate_registry_changed();
CREATE TRIGGER kill_switches_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON kill_switches
	FOR EACH STATEMENT EXECUTE FUNCTION agentgate_registry_changed();
