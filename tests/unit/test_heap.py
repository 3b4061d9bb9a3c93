"""The garbage collector as an execution environment sets it: a group of queued batches is
read without a collection walking it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hostpulse.core.envelope import Envelope, read_batch
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import lazy
from tests.fakes import MemoryArchive

GROUP = 100  # the aggregate trigger's batch size


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection while the test runs."""
    seen: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    threshold = gc.get_threshold()
    gc.callbacks.append(count)
    yield seen
    gc.callbacks.remove(count)
    gc.set_threshold(*threshold)


def queued_group() -> list[str]:
    hosts = [SyntheticHost(f"heap-{h:02d}", cores=8, seed=h) for h in range(20)]
    return [
        Envelope(
            inline=host.batch([1_700_000_000_000 + 10_000 * i, 1_700_000_005_000 + 10_000 * i])
            .model_dump_json()
            .encode()
        ).encode()
        for i in range(GROUP // len(hosts))
        for host in hosts
    ]


def test_a_group_is_read_without_a_collection(collections: list[int]) -> None:
    messages = queued_group()
    lazy.settle_heap()
    gc.collect()  # counts start from nothing, as after a group's objects are freed
    collections.clear()
    group = [read_batch(body, MemoryArchive()) for body in messages]
    assert len(group) == GROUP
    assert collections == []


def test_python_default_would_collect_while_reading(collections: list[int]) -> None:
    """The same group with Python's default threshold: what the setting saves."""
    messages = queued_group()
    gc.set_threshold(700, 10, 10)
    gc.collect()
    collections.clear()
    group = [read_batch(body, MemoryArchive()) for body in messages]
    assert len(group) == GROUP
    assert len(collections) >= 5
