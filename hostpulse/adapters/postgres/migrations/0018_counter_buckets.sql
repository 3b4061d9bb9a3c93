-- What a counter needs from a rolled bucket, beside its last value: its first value with that
-- value's time, and the sum of the values it fell from at its resets inside the bucket. Over
-- whole buckets, a counter's increase is then last - first + those sums + the values it fell
-- from between buckets: rate() and increase() over the rolled tiers as over the raw samples.
-- The sums are exact (numeric): the same samples give the same bits in any order of writes.
-- NULL where unknown: buckets rolled before this migration, and a late sample that fell
-- between a rolled bucket's samples; a read falls back to the buckets' last values there.
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
