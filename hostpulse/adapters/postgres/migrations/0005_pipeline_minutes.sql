-- The pipeline minute by minute (hostpulse/pipeline_history.py), one row per deployment and
-- minute, kept as long as the 1-minute tier by the schedule that writes them.
CREATE TABLE pipeline_minutes (
    deployment text NOT NULL,
    minute timestamptz NOT NULL,
    ingest_batches integer NOT NULL,
    ingest_samples bigint NOT NULL,
    ingest_refused integer NOT NULL,
    ingest_failed integer NOT NULL,
    latency_avg_ms double precision,
    latency_p95_ms double precision,
    aggregate_stored integer NOT NULL,
    aggregate_failed integer NOT NULL,
    lag_s double precision,
    queues jsonb NOT NULL,
    PRIMARY KEY (deployment, minute)
);
