"""How the test tiers are kept: the marks guard of `make test`, the groups of `make test-all`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from tests.conftest import SHARED_SETUP_S, UNMARKED_LIMIT_S, group_of, overran


@pytest.fixture(autouse=True)
def serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """As `make test` runs: one process, the cores its own (whatever runs this test)."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


class Item:
    """What the guard reads of a test item: its marks, its stash and the run's mark filter."""

    def __init__(self, *marks: str, shared_setup_s: float = 0.0, run: str = "not slow") -> None:
        self.marks = marks
        self.stash = pytest.Stash()
        self.stash[SHARED_SETUP_S] = shared_setup_s
        self.config = SimpleNamespace(option=SimpleNamespace(markexpr=run))

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.marks else None


def test_an_unmarked_test_past_the_limit_is_told_to_be_marked_slow() -> None:
    reason = overran(cast(pytest.Item, Item()), setup_s=15.0, call_s=UNMARKED_LIMIT_S - 10)

    assert reason is not None
    assert "@pytest.mark.slow" in reason and "its own setup 15 s" in reason


def test_a_slow_test_may_take_its_time() -> None:
    assert overran(cast(pytest.Item, Item("slow")), setup_s=100.0, call_s=300.0) is None


def test_the_shared_local_clouds_start_is_not_the_tests_own() -> None:
    first_user = cast(pytest.Item, Item(shared_setup_s=70.0))

    assert overran(first_user, setup_s=72.0, call_s=3.0) is None
    assert overran(first_user, setup_s=72.0, call_s=UNMARKED_LIMIT_S) is not None


def test_make_tests_two_workers_allow_twice_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")

    assert overran(cast(pytest.Item, Item()), setup_s=0.0, call_s=UNMARKED_LIMIT_S * 1.5) is None
    reason = overran(cast(pytest.Item, Item()), setup_s=0.0, call_s=UNMARKED_LIMIT_S * 3)
    assert reason is not None and f"more than {UNMARKED_LIMIT_S * 2:.0f} s" in reason


def test_beside_the_slow_tests_a_duration_is_not_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")  # `make test-all`: no mark filter

    beside_slow = cast(pytest.Item, Item(run=""))
    assert overran(beside_slow, setup_s=0.0, call_s=UNMARKED_LIMIT_S * 3) is None


def test_a_parallel_run_keeps_a_file_together_and_the_shared_folders_together() -> None:
    assert group_of("tests/unit/test_a.py::test_one") == group_of("tests/unit/test_a.py::test_two")
    assert group_of("tests/unit/test_a.py::test_one") != group_of("tests/unit/test_b.py::test_one")
    assert group_of("tests/faults/test_a.py::t") == group_of("tests/faults/test_b.py::t[x]")
    assert group_of("tests/browser/test_a.py::t") == "browser"
