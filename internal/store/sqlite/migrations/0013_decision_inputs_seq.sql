-- Inputs are purged in seq order (PurgeInputs bounds the scan by the audit
-- log's time index), so their at_us index is no longer read: one page
-- less written per decision (a WAL frame, written and fsynced at commit).
DROP INDEX decision_inputs_at;
