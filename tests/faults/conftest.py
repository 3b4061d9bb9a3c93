"""The fault suite's own local cloud: faults are injected into it, never into the session's.

Its stack is the shipped one but for the aggregate queue, which makes a message visible again
after 5 s and dead-letters it after 5 receives (shipped: 60 s and 10), so that a fault plays
out in a minute instead of ten.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hostpulse.localcloud.settings import PROJECT_ROOT
from tests.support import CloudUnderTest


def quick_redrive_stack(directory: Path) -> Path:
    stack = yaml.safe_load((PROJECT_ROOT / "stack" / "stack.yaml").read_text())
    stack["queues"]["aggregate"] = {
        "visibility_timeout": 5,
        "dead_letter": {"max_receive_count": 5},
    }
    for spec in stack["functions"].values():
        spec["source"] = [str(PROJECT_ROOT / s.removeprefix("../")) for s in spec["source"]]
    path = directory / "stack.yaml"
    path.write_text(yaml.safe_dump(stack))
    return path


@pytest.fixture(scope="session")
def fault_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh("faults")
    cloud.env["HOSTPULSE_STACK_FILE"] = str(quick_redrive_stack(tmp_path_factory.mktemp("stack")))
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()
