"""Every handler in-process: JSON events, a Lambda context, in-memory adapters handed in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.wiring import Lazy


@dataclass
class FakeLambdaContext:
    function_name: str = "hostpulse-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:hostpulse-test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "4f1a5e3c-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/hostpulse-test"
    log_stream_name: str = "2026/11/21/[$LATEST]0000"
    client_context: None = None
    identity: None = None

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def context() -> LambdaContext:
    # Has what Powertools and Mangum read of a context; the real class takes no arguments.
    return cast(LambdaContext, FakeLambdaContext())


@pytest.fixture
def hand_in() -> Iterator[Any]:
    """Gives a handler's lazy component a stand-in for one test, then forgets it."""
    overridden: list[Lazy[Any]] = []

    def give(lazy: Lazy[Any], value: Any) -> None:
        lazy.override(value)
        overridden.append(lazy)

    yield give
    for lazy in overridden:
        lazy.override(None)
