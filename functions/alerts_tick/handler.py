"""On a schedule: hosts gone silent, reminders of what still fires, delivery retries, and the
pipeline's own figures through the alert rules."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.core.settings import alert_settings
from hostpulse.services.self_monitoring.watch import watch_pipeline
from hostpulse.wiring.components import alert_service, alerts_pipeline_watch, pipeline_recorder
from hostpulse.wiring.lazy import Lazy

logger = Logger(service="alerts-tick")
service = Lazy(alert_service)
pipeline = Lazy(alerts_pipeline_watch)
recorder = Lazy(lambda: pipeline_recorder(alert_settings()))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    pipeline_status = "unknown"
    try:  # first, so that what it fires is delivered by this tick
        answer = watch_pipeline(service(), pipeline(), now_ms)
        pipeline_status = answer["status"]
        recorder().record(answer, now_ms)  # the minute that just ended, for the history
    except Exception:  # queues or stores away: the host checks below still run
        logger.exception("pipeline check or its minute failed", extra={"pipeline": pipeline_status})
    outcome = service().tick(now_ms)
    result: dict[str, Any] = {
        "fired": outcome.fired,
        "notifications": outcome.notifications,
        "delivered": outcome.delivered,
        "failed": outcome.failed,
        "pipeline": pipeline_status,
    }
    logger.info("alerts tick", extra=result)
    return result
