from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import CloudUnderTest


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[CloudUnderTest]:
    """The real local cloud (LocalStack, PostgreSQL, Redis), once for the whole session."""
    cloud = CloudUnderTest.fresh("session")
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()
