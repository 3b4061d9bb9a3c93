"""SQS (the alerts queue) → rule evaluation on each batch, then delivery of what fired."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.wiring.components import queued_evaluation
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import observe

observed = observe("alerts")
processor = BatchProcessor(event_type=EventType.SQS)
evaluation = Lazy(lambda: queued_evaluation(observed.counters))


def evaluate(record: SQSRecord) -> None:
    evaluation().evaluate(record.body, int(time.time() * 1000))


@observed.metrics.log_metrics
@observed.logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=evaluate, processor=processor, context=context
    )
    evaluation().deliver(int(time.time() * 1000))
    return dict(response)
