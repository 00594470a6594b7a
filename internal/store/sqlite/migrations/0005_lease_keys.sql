-- Concurrency leases are also looked up by quota and key, whoever holds
-- them: a system that reports a run's end without saying who started it
-- (an Argo Workflow finishing in the cluster) releases by key.
CREATE INDEX quota_leases_name_key ON quota_leases (name, key);
