"""The fault suite's own local cloud: faults are injected into it, never into the session's.

Its stack is the shipped one but for the aggregate queue, which makes a message visible again
after 5 s and dead-letters it after 5 receives (shipped: 60 s and 10), so that a fault plays
out in a minute instead of ten.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import CloudUnderTest, per_worker, stack_variant


def quick_redrive(stack: dict[str, Any]) -> None:
    stack["queues"]["aggregate"] = {
        "visibility_timeout": 5,
        "dead_letter": {"max_receive_count": 5},
    }


@pytest.fixture(scope="session")
def fault_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh(per_worker("faults"))
    cloud.env["HOSTPULSE_STACK_FILE"] = str(
        stack_variant(tmp_path_factory.mktemp("stack"), quick_redrive)
    )
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()
