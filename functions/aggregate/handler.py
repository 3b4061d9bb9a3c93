"""SQS → the PostgreSQL tiers, with partial batch responses (poison goes to the DLQ)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.aggregate import aggregate_message
from hostpulse.observability import PowertoolsCounters
from hostpulse.wiring import aggregate_archive, metric_store

logger = Logger(service="aggregate")
metrics = Metrics(namespace="hostpulse", service="aggregate")
processor = BatchProcessor(event_type=EventType.SQS)
counters = PowertoolsCounters(metrics)
store = metric_store()
archive = aggregate_archive()


def record_handler(record: SQSRecord) -> None:
    new = aggregate_message(record.body, store, archive)
    counters.count("batches_stored" if new else "batches_duplicate")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
