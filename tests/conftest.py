from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator

import pluggy
import pytest
from hypothesis import HealthCheck, settings

from tests.support import CloudUnderTest, per_worker, quick_rules, stack_variant

# Property tests judge what comes out, never how fast: on a shared machine a stalled second
# (a local cloud starting or stopping beside them) must not fail one. Speed is measured in bench/.
settings.register_profile("hostpulse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hostpulse")


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudUnderTest]:
    """The real local cloud (LocalStack, PostgreSQL, Redis), once for the whole session."""
    cloud = CloudUnderTest.fresh(per_worker("session"))  # in parallel, one per worker
    cloud.env["HOSTPULSE_STACK_FILE"] = str(
        stack_variant(tmp_path_factory.mktemp("session-stack"), quick_rules)
    )
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


# -- the parallel run -----------------------------------------------------------------------------
# `make test-all` hands whole groups to its two workers: a file's tests share its module's
# fixtures, and these folders share session fixtures of their own (the fault suite's cloud, the
# browser tests' API server and fleet), set up once only if all their tests run in one worker.
FOLDERS_AS_ONE = {"faults", "browser"}


def group_of(nodeid: str) -> str:
    """The group a test goes to a worker with: its folder's for those above, else its file's."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return parts[-2] if len(parts) > 1 and parts[-2] in FOLDERS_AS_ONE else path


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


# -- honest marks ---------------------------------------------------------------------------------
# `make test` runs what is not marked slow and must stay quick: an unmarked test that lasts
# longer than this fails and says which mark it needs. Its own setup counts (a module's own
# cloud, a fleet it fills); what the session shares (the local cloud, started once) does not.
UNMARKED_LIMIT_S = 20.0
SHARED_SETUP_S = pytest.StashKey[float]()  # what of a test's setup the session's fixtures took
SETUP_S = pytest.StashKey[float]()
SETTING_UP: list[pytest.Item] = []  # the test whose setup runs now


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, None]:
    SETTING_UP.append(item)
    try:
        yield
    finally:
        SETTING_UP.pop()


class SharedSetupTimer:
    """Times the session's fixtures as the test that first needs them sets them up. A plugin of
    its own: a conftest's hooks are not called for session fixtures, which belong to no folder."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[object]
    ) -> Generator[None, object, None]:
        started = time.monotonic()
        yield
        if fixturedef.scope == "session" and SETTING_UP:
            item = SETTING_UP[-1]
            spent = time.monotonic() - started
            item.stash[SHARED_SETUP_S] = item.stash.get(SHARED_SETUP_S, 0.0) + spent


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SharedSetupTimer(), "shared-setup-timer")


def overran(item: pytest.Item, setup_s: float, call_s: float) -> str | None:
    """Why an unmarked test may not run in `make test`, or None when it may."""
    limit_s = UNMARKED_LIMIT_S
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Two workers share the cores: up to twice a test's own time. Beside the slow tests
        # (`make test-all`), the outages they stage, it says nothing of the test at all.
        if item.config.option.markexpr != "not slow":
            return None
        limit_s *= 2
    own_setup_s = max(0.0, setup_s - item.stash.get(SHARED_SETUP_S, 0.0))
    if item.get_closest_marker("slow") or own_setup_s + call_s <= limit_s:
        return None
    return (
        f"took {own_setup_s + call_s:.0f} s (its own setup {own_setup_s:.0f} s, the test"
        f" {call_s:.0f} s), more than {limit_s:.0f} s for a test `make test` runs:"
        " mark it @pytest.mark.slow (it then runs in `make test-all`), or make it quicker"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "setup":
        item.stash[SETUP_S] = report.duration
    elif report.when == "call" and report.passed:
        reason = overran(item, item.stash.get(SETUP_S, 0.0), report.duration)
        if reason is not None:
            report.outcome = "failed"
            report.longrepr = reason
