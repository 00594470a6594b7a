-- Who is behind an object that the Argo workflow controller or server
-- acts on later: a CronWorkflow an agent created (the controller spawns
-- its Workflows), a Workflow an agent submitted (the server resubmits
-- it). Written by agentgate when it admits the agent's object; read when
-- the controller or server creates a Workflow from it.
CREATE TABLE attributions (
	kind TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	principal TEXT NOT NULL,
	created_at_us BIGINT NOT NULL,
	PRIMARY KEY (kind, namespace, name)
);
