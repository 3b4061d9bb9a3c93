from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import CloudUnderTest, registered_agent


@pytest.fixture
def new_agent(local_cloud: CloudUnderTest) -> Callable[[str], tuple[str, str]]:
    """Registers a fresh agent on the session's database: (name, token)."""
    return lambda prefix: registered_agent(local_cloud, prefix)
