"""The pipeline's minutes in PostgreSQL, per deployment (several may share a database)."""

from __future__ import annotations

import json

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.self_monitoring.history import PipelineMinute

PUT_MINUTE = """
INSERT INTO pipeline_minutes (deployment, minute, ingest_batches, ingest_samples,
    ingest_refused, ingest_failed, latency_avg_ms, latency_p95_ms, aggregate_stored,
    aggregate_failed, lag_s, queues, series_over_budget)
VALUES (%s, to_timestamp(%s / 1000.0), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (deployment, minute) DO UPDATE SET
    ingest_batches = EXCLUDED.ingest_batches, ingest_samples = EXCLUDED.ingest_samples,
    ingest_refused = EXCLUDED.ingest_refused, ingest_failed = EXCLUDED.ingest_failed,
    latency_avg_ms = EXCLUDED.latency_avg_ms, latency_p95_ms = EXCLUDED.latency_p95_ms,
    aggregate_stored = EXCLUDED.aggregate_stored, aggregate_failed = EXCLUDED.aggregate_failed,
    lag_s = EXCLUDED.lag_s, queues = EXCLUDED.queues,
    series_over_budget = EXCLUDED.series_over_budget
"""
FORGET_BEFORE = """
DELETE FROM pipeline_minutes WHERE deployment = %s AND minute < to_timestamp(%s / 1000.0)
"""
READ_MINUTES = """
SELECT (extract(epoch FROM minute) * 1000)::bigint, ingest_batches, ingest_samples,
    ingest_refused, ingest_failed, latency_avg_ms, latency_p95_ms, aggregate_stored,
    aggregate_failed, lag_s, queues, series_over_budget
FROM pipeline_minutes
WHERE deployment = %s AND minute BETWEEN to_timestamp(%s / 1000.0) AND to_timestamp(%s / 1000.0)
ORDER BY minute
"""


class PgPipelineHistory:
    def __init__(self, connector: PgConnector, deployment: str) -> None:
        self.connector = connector
        self.deployment = deployment

    def put(self, minute: PipelineMinute, keep_ms: int) -> None:
        with self.connector.transaction() as cur:
            cur.execute(
                PUT_MINUTE,
                (
                    self.deployment, minute.minute_ms, minute.ingest_batches,
                    minute.ingest_samples, minute.ingest_refused, minute.ingest_failed,
                    minute.latency_avg_ms, minute.latency_p95_ms, minute.aggregate_stored,
                    minute.aggregate_failed, minute.lag_s, json.dumps(minute.queues),
                    minute.series_over_budget,
                ),
            )  # fmt: skip
            cur.execute(FORGET_BEFORE, (self.deployment, minute.minute_ms - keep_ms))

    def read(self, since_ms: int, until_ms: int) -> list[PipelineMinute]:
        with self.connector.transaction() as cur:
            cur.execute(READ_MINUTES, (self.deployment, since_ms, until_ms))
            return [PipelineMinute(*row) for row in cur.fetchall()]
