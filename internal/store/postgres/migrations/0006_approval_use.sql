-- An approved approval of a change that cannot be held (a Kubernetes
-- admission request) admits one resubmission of the same change: used_at_us
-- and used_by (the decision id) record that it was used.
ALTER TABLE approvals ADD COLUMN used_at_us BIGINT;
ALTER TABLE approvals ADD COLUMN used_by TEXT NOT NULL DEFAULT '';
CREATE INDEX approvals_action ON approvals (provider, repo, sha, environment, agent_id);
