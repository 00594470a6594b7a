-- Time bounds of audit queries become sequence bounds.
--
-- Records are appended in chain order, each stamped by the clock of the
-- replica that wrote it, so at_us is nearly but not strictly increasing
-- along seq. Two running maxima along the chain make a time window an
-- exact seq range found by one index seek:
--   at_mono_us  the greatest at_us of any record up to this one;
--   lag_max_us  the greatest (at_mono_us - at_us) up to this one, the
--               furthest any record's clock has lagged the chain.
-- A record has at_us >= From only at or after the first seq whose
-- at_mono_us >= From, and at_us < To only before the first seq whose
-- at_mono_us >= To + lag_max_us (read off the chain head).
-- Both are derived from the sealed bodies and set at append; the code
-- never updates them afterwards.
ALTER TABLE audit_log ADD COLUMN at_mono_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_log ADD COLUMN lag_max_us BIGINT NOT NULL DEFAULT 0;
-- One pass: the running maximum of at_us, then of the lag behind it.
UPDATE audit_log SET at_mono_us = w.mono, lag_max_us = w.lag
	FROM (SELECT seq, mono, max(mono - at_us) OVER (ORDER BY seq) AS lag
		FROM (SELECT seq, at_us, max(at_us) OVER (ORDER BY seq) AS mono FROM audit_log) AS m) AS w
	WHERE w.seq = audit_log.seq;
DROP INDEX audit_log_at;
CREATE INDEX audit_log_mono ON audit_log (at_mono_us, seq);
-- provider filters, alone or with an outcome, in seq order.
CREATE INDEX audit_log_provider ON audit_log (provider, seq);
