-- What a counter needs from a rolled bucket, beside its last value: its first value with that
-- value's time, and the sum of the values it fell from at its resets inside the bucket. Over
-- whole buckets, a counter's increase is then last - first + those sums + the values it fell
-- from between buckets: rate() and increase() over the rolled tiers as over the raw samples.
-- Kept for counters only (series.counter): ordering a bucket's values by time is what costs.
-- The sums are exact (numeric): the same samples give the same bits in any order of writes.
-- first_ts NULL: not known (a gauge, a bucket rolled before this migration, or one whose
-- source no longer holds all its samples); a read falls back to the buckets' last values.
-- reset_sum NULL with first_ts set: a late sample fell between the bucket's samples; the next
-- rollup rolls the bucket again from the tier below (the partial indexes find them).
ALTER TABLE series ADD COLUMN counter boolean NOT NULL DEFAULT false;
-- The series stored so far, named as hostpulse.core.prometheus_names.is_counter named
-- counters when this migration was written.
UPDATE series SET counter = true
WHERE metric IN ('agent.dropped_batches', 'agent.retried_batches')
   OR metric ~ '^custom\.[^{]*_(total|count|sum|bucket)\{'
   OR metric ~ '^custom\.[^{:]*_(total|count|sum|bucket)(:|$)';
CREATE INDEX series_counters ON series (id) WHERE counter;

ALTER TABLE samples_1m ADD COLUMN first double precision, ADD COLUMN first_ts timestamptz,
    ADD COLUMN reset_sum numeric;
ALTER TABLE samples_5m ADD COLUMN first double precision, ADD COLUMN first_ts timestamptz,
    ADD COLUMN reset_sum numeric;
ALTER TABLE samples_30m ADD COLUMN first double precision, ADD COLUMN first_ts timestamptz,
    ADD COLUMN reset_sum numeric;
ALTER TABLE samples_1h ADD COLUMN first double precision, ADD COLUMN first_ts timestamptz,
    ADD COLUMN reset_sum numeric;
ALTER TABLE samples_6h ADD COLUMN first double precision, ADD COLUMN first_ts timestamptz,
    ADD COLUMN reset_sum numeric;
CREATE INDEX samples_1m_unsure ON samples_1m (bucket) WHERE reset_sum IS NULL AND first_ts IS NOT NULL;
CREATE INDEX samples_5m_unsure ON samples_5m (bucket) WHERE reset_sum IS NULL AND first_ts IS NOT NULL;
CREATE INDEX samples_30m_unsure ON samples_30m (bucket) WHERE reset_sum IS NULL AND first_ts IS NOT NULL;
CREATE INDEX samples_1h_unsure ON samples_1h (bucket) WHERE reset_sum IS NULL AND first_ts IS NOT NULL;
CREATE INDEX samples_6h_unsure ON samples_6h (bucket) WHERE reset_sum IS NULL AND first_ts IS NOT NULL;
