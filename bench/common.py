"""What every benchmark shares: a fresh local cloud and a place to write results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from hostpulse.core.settings import CoreSettings, IngestSettings
from hostpulse.deploy.model import TriggerSpec, load_stack
from hostpulse.localcloud.settings import PROJECT_ROOT
from tests.support import CloudUnderTest

# A smoke run (HOSTPULSE_BENCH_SMOKE=1) runs every benchmark's own code at a tiny size, so the
# test suite finds a benchmark that no longer runs; it writes where HOSTPULSE_BENCH_RESULTS says,
# never over the figures docs/benchmarks.md quotes.
SMOKE = os.environ.get("HOSTPULSE_BENCH_SMOKE") == "1"
# The test suite's smoke runs share one running local cloud (its state folder here, its settings
# in the environment): what they try is that each benchmark's code runs, not its figures.
SHARED_CLOUD = os.environ.get("HOSTPULSE_BENCH_CLOUD")
RESULTS = Path(os.environ.get("HOSTPULSE_BENCH_RESULTS") or PROJECT_ROOT / "bench" / "results")

N = TypeVar("N", int, float)


def sized(full: N, smoke: N) -> N:
    """A benchmark's size: ``full`` when measuring, ``smoke`` in a smoke run."""
    return smoke if SMOKE else full


@contextmanager
def local_cloud(name: str, settings: dict[str, str] | None = None) -> Iterator[CloudUnderTest]:
    """A fresh local cloud for a measurement (``settings``: HOSTPULSE_* values of its own), or
    the smoke runs' shared one, left running."""
    if SHARED_CLOUD:
        yield CloudUnderTest(Path(SHARED_CLOUD), dict(os.environ))
        return
    cloud = CloudUnderTest.fresh(f"bench-{name}")
    cloud.env |= settings or {}
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


@cache
def trigger(function: str) -> TriggerSpec:
    """The queue trigger of ``function`` as deployed (stack/stack.yaml), read once."""
    stack = load_stack(PROJECT_ROOT / "stack" / "stack.yaml")
    return next(t for t in stack.triggers if t.function == function)


S = TypeVar("S", bound=CoreSettings)


def settings_for(cloud: CloudUnderTest, kind: type[S], **values: Any) -> S:
    """A component's settings pointing at the benchmark's local cloud, as the functions get
    them from the stack: the benchmarks build their components through hostpulse.wiring."""
    e = cloud.endpoints
    return kind(
        database_url=e["database_url"],
        redis_url=e["redis_url"],
        AWS_REGION=e["region"],
        AWS_ENDPOINT_URL=e["aws_endpoint_url"],
        **values,
    )


def rounds(items: int, count: int) -> list[range]:
    """``items`` split into ``count`` consecutive rounds, for alternating a path and its
    baseline round by round."""
    size = -(-items // count)
    return [range(start, min(start + size, items)) for start in range(0, items, size)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(percentile(values, 0.95), 2),
        "n": len(values),
    }


def timed_ms(repeats: int, call: Callable[[int], object]) -> dict[str, float]:
    """p50 and p95 of ``repeats`` calls (given their index), in milliseconds."""
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000)
    return summary(times)


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    result = {"machine": f"{platform.machine()}, {platform.python_version()}", **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return path


class NoCounters:
    def count(self, name: str, value: float = 1) -> None:
        """Counting is the handler's business, not a benchmark's."""


def unlimited_ingest_settings(cloud: CloudUnderTest) -> IngestSettings:
    """What the ingest function runs against the benchmark's local cloud, but for the rate
    limit: one agent sends hundreds of batches as fast as it can."""
    e = cloud.endpoints
    return settings_for(
        cloud,
        IngestSettings,
        aggregate_queue_url=e["queues"]["aggregate"],
        alerts_queue_url=e["queues"]["alerts"],
        archive_bucket=e["buckets"]["archive"],
        rate_per_second=1e6,
        rate_burst=1_000_000,
    )
