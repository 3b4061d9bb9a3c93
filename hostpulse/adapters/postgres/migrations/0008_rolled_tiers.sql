-- Tiers coarser than a minute are rolled up from the tier below once their buckets have closed,
-- instead of merged on every write: 5 minutes (the 24 h view), 30 minutes (7 d), the 1-hour tier
-- (until now merged on write) and 6 hours (90 d), so that a view reads about as many rows as it
-- shows points. A tier's watermark is where its rolled buckets end: before it, buckets are
-- complete (a late row is merged into them by its write); after it, the series query reads
-- the 1-minute tier.
CREATE TABLE samples_5m (LIKE samples_1m INCLUDING ALL) PARTITION BY RANGE (bucket);
CREATE TABLE samples_30m (LIKE samples_1m INCLUDING ALL) PARTITION BY RANGE (bucket);
CREATE TABLE samples_6h (LIKE samples_1m INCLUDING ALL) PARTITION BY RANGE (bucket);

-- A rollup reads a span of time across every series of the tier below: rows are written in
-- about time order, so a block range index finds the span for little upkeep.
CREATE INDEX samples_1m_bucket_brin ON samples_1m USING brin (bucket) WITH (autosummarize = on);
CREATE INDEX samples_5m_bucket_brin ON samples_5m USING brin (bucket) WITH (autosummarize = on);
CREATE INDEX samples_30m_bucket_brin ON samples_30m USING brin (bucket) WITH (autosummarize = on);
CREATE INDEX samples_1h_bucket_brin ON samples_1h USING brin (bucket) WITH (autosummarize = on);

CREATE TABLE tier_watermarks (
    tier           text PRIMARY KEY,
    rolled_through timestamptz NOT NULL
);

-- The 1-hour tier is complete up to the current hour (every write merged into it until now);
-- the new tiers start where the tier below them starts, so the first rollups fill them.
INSERT INTO tier_watermarks (tier, rolled_through)
SELECT tier, date_bin(width, coalesce(since, now()), timestamptz '2000-01-01 00:00:00+00')
FROM (VALUES
    ('5m', interval '5 minutes', (SELECT min(bucket) FROM samples_1m)),
    ('30m', interval '30 minutes', (SELECT min(bucket) FROM samples_1m)),
    ('1h', interval '1 hour', now()),
    ('6h', interval '6 hours', (SELECT min(bucket) FROM samples_1h))
) AS w(tier, width, since);
