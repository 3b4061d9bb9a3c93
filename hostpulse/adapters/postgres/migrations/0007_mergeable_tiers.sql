-- 1-minute and 1-hour buckets are merged with each write's new raw rows instead of recomputed
-- from the tier below. Their sums become numeric: exact, so that the same rows give the same sum
-- whatever order and grouping they arrive in (redelivery, replay, late samples).
ALTER TABLE samples_1m ALTER COLUMN sum TYPE numeric;
ALTER TABLE samples_1h ALTER COLUMN sum TYPE numeric;
