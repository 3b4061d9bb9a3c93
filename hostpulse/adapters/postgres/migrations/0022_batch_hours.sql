-- Completeness (sequence gaps per host and agent) from hourly counts instead of every batch of
-- the window: at a fleet's rate the window holds millions of batch rows, which the fleet page
-- would aggregate on every refresh. The writer adds the batches it actually inserted, in the
-- same transaction, so duplicates and replays count once. Partitioned by day like batches,
-- and dropped with them.
CREATE TABLE batch_hours (
    host      text NOT NULL,
    agent_id  text NOT NULL,
    hour      timestamptz NOT NULL,
    batches   bigint NOT NULL,
    min_seq   bigint NOT NULL,
    max_seq   bigint NOT NULL,
    PRIMARY KEY (host, agent_id, hour)
) PARTITION BY RANGE (hour);

DO $$
DECLARE
    day date;
BEGIN
    FOR day IN SELECT DISTINCT (first_ts AT TIME ZONE 'UTC')::date FROM batches LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF batch_hours FOR VALUES FROM (%L) TO (%L)',
            'batch_hours_p' || to_char(day, 'YYYYMMDD'),
            day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00'
        );
    END LOOP;
END $$;

INSERT INTO batch_hours (host, agent_id, hour, batches, min_seq, max_seq)
SELECT host, agent_id, date_trunc('hour', first_ts, 'UTC'), count(*), min(seq), max(seq)
FROM batches
GROUP BY 1, 2, 3;
