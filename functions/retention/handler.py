"""On a schedule: drop the day partitions every tier has outlived."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.core.settings import core_settings
from hostpulse.services.aggregate.retention import run_retention
from hostpulse.wiring.components import metric_store
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import observe

observed = observe("retention")
store = Lazy(metric_store)
tiers = Lazy(lambda: core_settings().tiers)


@observed.logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"dropped": run_retention(store(), tiers(), datetime.now(UTC))}
