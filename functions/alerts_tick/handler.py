"""On a schedule: hosts gone silent, reminders of what still fires, delivery retries, and the
pipeline's own figures through the alert rules."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.wiring.components import alert_tick
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import observe

observed = observe("alerts-tick")
tick = Lazy(alert_tick)


@observed.logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return tick().run(int(time.time() * 1000))
