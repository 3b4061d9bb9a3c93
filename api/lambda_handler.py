"""The query API on Lambda behind API Gateway (REST, proxy integration)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum
from mangum.types import LambdaContext

from api.app import create_app
from hostpulse.wiring.lazy import Lazy

adapter = Lazy(lambda: Mangum(create_app(), lifespan="off"))


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer: dict[str, Any] = adapter()(event, context)
    return answer
