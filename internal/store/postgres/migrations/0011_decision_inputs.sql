-- The policy input of each decision, compressed (internal/replay), keyed
-- by the decision's audit record, for `admission policy replay`. Purged
-- after policy.input_retention.
CREATE TABLE decision_inputs (
	seq BIGINT PRIMARY KEY,
	at_us BIGINT NOT NULL,
	body BYTEA NOT NULL
);
CREATE INDEX decision_inputs_at ON decision_inputs (at_us);
