"""Every handler in-process: JSON events, a Lambda context, in-memory adapters handed in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.services.worker.consumer import WorkerContext
from hostpulse.wiring.lazy import Lazy


@pytest.fixture
def context() -> LambdaContext:
    # What the worker runtime hands a handler: what Powertools and Mangum read of a context.
    return cast(
        LambdaContext,
        WorkerContext(
            function_name="hostpulse-test",
            memory_limit_in_mb=512,
            invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:hostpulse-test",
            deadline=time.monotonic() + 30,
        ),
    )


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
