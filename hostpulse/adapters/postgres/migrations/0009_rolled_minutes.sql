-- The 1-minute tier is rolled up from raw once a minute has closed, as the coarser tiers are
-- from the tier below, instead of merged by every write: a write COPies its rows into raw and
-- nothing else, and the series query reads the newest minutes from raw. Its watermark starts
-- at the current minute: every minute before it was merged by writes and is complete; the
-- current one's rollup replaces what writes merged into it with every raw row of the minute.
INSERT INTO tier_watermarks (tier, rolled_through)
VALUES ('1m', date_bin('1 minute', now(), timestamptz '2000-01-01 00:00:00+00'));

-- A rollup reads a minute of raw across every series: rows come in about time order, so a
-- block range index finds the span for little upkeep.
CREATE INDEX samples_raw_ts_brin ON samples_raw USING brin (ts) WITH (autosummarize = on);
