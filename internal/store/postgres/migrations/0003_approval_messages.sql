-- Where each approval was announced (a Slack channel and message ts), so
-- any replica can update the message when the approval is resolved.
CREATE TABLE approval_messages (
	approval_id TEXT PRIMARY KEY,
	channel TEXT NOT NULL,
	message_id TEXT NOT NULL
);
