"""SQS → the PostgreSQL tiers, with partial batch responses (poison goes to the DLQ)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.core.partitions import oldest_kept_ms
from hostpulse.services.aggregate.service import aggregate_records
from hostpulse.wiring.components import (
    aggregate_archive,
    claims_retention,
    metric_store,
    pipeline_meter,
    rollup_schedule,
)
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import PowertoolsCounters

logger = Logger(service="aggregate")
metrics = Metrics(namespace="hostpulse", service="aggregate")
counters = PowertoolsCounters(metrics)
store = Lazy(metric_store)
archive = Lazy(aggregate_archive)
claims_kept = Lazy(claims_retention)
meter = Lazy(lambda: pipeline_meter(counters))
rollups = Lazy(rollup_schedule)


# Not Powertools' BatchProcessor: it handles records one at a time, and one transaction for
# the whole SQS batch is what makes aggregation fast. The response has the same shape.
@metrics.log_metrics
@logger.inject_lambda_context
@event_source(data_class=SQSEvent)
def handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    records = [(r.message_id, r.body) for r in event.records]
    now = datetime.now(UTC)
    outcome = aggregate_records(records, store(), archive(), oldest_kept_ms(now, claims_kept()))
    counters.count("batches_stored", outcome.stored)
    counters.count("batches_duplicate", outcome.duplicates)
    counters.count("batches_seq_reused", outcome.reused_seq)
    counters.count("batches_expired", outcome.expired)
    counters.count("messages_failed", len(outcome.failed))
    counters.count("archive_failures", int(outcome.archive_failed))
    meter().aggregated(outcome.stored, len(outcome.failed), int(time.time() * 1000))
    rollups().run_if_due(store(), now)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in outcome.failed]}
