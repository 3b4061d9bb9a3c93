"""On a schedule: drop the day partitions every tier has outlived; retire the hosts down too
long and keep the hot tier to the live fleet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.wiring.components import scheduled_retention
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import observe

observed = observe("retention")
retention = Lazy(scheduled_retention)


@observed.logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return retention().run(datetime.now(UTC))
