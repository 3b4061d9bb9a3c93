"""SQS → the PostgreSQL tiers, with partial batch responses (poison goes to the DLQ)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.wiring.components import aggregation_for
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import observe

observed = observe("aggregate")
aggregation = Lazy(lambda: aggregation_for(observed.counters))


# Not Powertools' BatchProcessor: it handles records one at a time, and one transaction for
# the whole SQS batch is what makes aggregation fast. The response has the same shape.
@observed.metrics.log_metrics
@observed.logger.inject_lambda_context
@event_source(data_class=SQSEvent)
def handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    failed = aggregation().run([(r.message_id, r.body) for r in event.records], datetime.now(UTC))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
