from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.support import CloudUnderTest

# Property tests judge what comes out, never how fast: on a shared machine a stalled second
# (a local cloud starting or stopping beside them) must not fail one. Speed is measured in bench/.
settings.register_profile("hostpulse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hostpulse")


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[CloudUnderTest]:
    """The real local cloud (LocalStack, PostgreSQL, Redis), once for the whole session."""
    cloud = CloudUnderTest.fresh("session")
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()
