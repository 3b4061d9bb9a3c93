"""SQS (the alerts queue) → rule evaluation on each batch, then delivery of what fired."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.services.aggregate.service import read_batch
from hostpulse.wiring.components import alert_archive, alert_service
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import PowertoolsCounters

logger = Logger(service="alerts")
metrics = Metrics(namespace="hostpulse", service="alerts")
counters = PowertoolsCounters(metrics)
processor = BatchProcessor(event_type=EventType.SQS)
service = Lazy(alert_service)
archive = Lazy(alert_archive)


def now_ms() -> int:
    return int(time.time() * 1000)


def evaluate(record: SQSRecord) -> None:
    outcome = service().evaluate_batch(read_batch(record.body, archive()).batch, now_ms())
    counters.count("rules_evaluated", outcome.evaluated)
    counters.count("alerts_fired", outcome.fired)
    counters.count("alerts_resolved", outcome.resolved)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=evaluate, processor=processor, context=context
    )
    # After the evaluations committed; a failed delivery is retried by the schedule.
    delivered = service().deliver_due(now_ms())
    counters.count("notifications_delivered", delivered.delivered)
    counters.count("notifications_failed", delivered.failed)
    return dict(response)
