"""On a schedule: hosts gone silent, reminders of what still fires, delivery retries."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.wiring import Lazy, alert_service

logger = Logger(service="alerts-tick")
service = Lazy(alert_service)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = service().tick(int(time.time() * 1000))
    result = {
        "fired": outcome.fired,
        "notifications": outcome.notifications,
        "delivered": outcome.delivered,
        "failed": outcome.failed,
    }
    logger.info("alerts tick", extra=result)
    return result
