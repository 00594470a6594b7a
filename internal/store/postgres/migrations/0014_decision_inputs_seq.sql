-- Inputs are purged in seq order (PurgeInputs bounds the scan by the audit
-- log's time index), so their at_us index is no longer read: one index
-- entry less per decision.
DROP INDEX IF EXISTS decision_inputs_at;
