"""The pipeline history's stores on the real Redis and PostgreSQL: concurrent writers add up
exactly, a minute is replaced not doubled, old minutes go, deployments stay apart."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.pipeline import PgPipelineHistory
from hostpulse.adapters.redis.hot import RedisRateLimiter
from hostpulse.adapters.redis.pipeline import RedisMinuteTally
from hostpulse.adapters.redis.series_budget import RedisSeriesBudget
from hostpulse.services.self_monitoring.history import MINUTE_MS, PipelineMinute, minute_of
from tests.support import CloudUnderTest

pytestmark = pytest.mark.localcloud


def test_concurrent_writers_add_up_exactly_and_the_key_expires(
    local_cloud: CloudUnderTest,
) -> None:
    client = redis.Redis.from_url(local_cloud.endpoints["redis_url"])
    deployment = f"test-{time.time_ns()}"
    tally = RedisMinuteTally(client, deployment)
    minute = minute_of(int(time.time() * 1000))

    def write() -> None:
        for _ in range(200):
            tally.add(minute, {"answers": 1, "latency_ms_sum": 0.25})

    writers = [threading.Thread(target=write) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert tally.read(minute) == {"answers": 800.0, "latency_ms_sum": 200.0}
    assert RedisMinuteTally(client, "another").read(minute) == {}
    ttl = client.pttl(f"hp:pipeline:{deployment}:{minute}")
    assert 0 < ttl <= 2 * 3600 * 1000


def row(minute_ms: int, batches: int) -> PipelineMinute:
    return PipelineMinute(
        minute_ms, batches, batches * 10, 0, 1, 12.5, None, batches, 0, None,
        {"aggregate": {"waiting": 3, "in_flight": 0, "dead_letters": 1}},
    )  # fmt: skip


def test_minutes_are_replaced_forgotten_when_old_and_kept_per_deployment(
    local_cloud: CloudUnderTest,
) -> None:
    connector = PgConnector(local_cloud.endpoints["database_url"])
    deployment = f"test-{time.time_ns()}"
    history, other = PgPipelineHistory(connector, deployment), PgPipelineHistory(connector, "x")
    t0 = minute_of(int(time.time() * 1000)) - 10 * MINUTE_MS
    keep = 5 * MINUTE_MS

    for minute in range(8):
        history.put(row(t0 + minute * MINUTE_MS, minute), keep)
    history.put(row(t0 + 7 * MINUTE_MS, 70), keep)  # the schedule ran twice for one minute
    other.put(row(t0 + 7 * MINUTE_MS, 1), keep)

    kept = history.read(t0, t0 + 10 * MINUTE_MS)
    assert [r.minute_ms for r in kept] == [t0 + m * MINUTE_MS for m in (2, 3, 4, 5, 6, 7)]
    assert kept[-1] == row(t0 + 7 * MINUTE_MS, 70)
    assert [r.ingest_batches for r in other.read(t0, t0 + 10 * MINUTE_MS)] == [1]


def test_a_rate_charges_a_request_as_many_batches_as_it_carries(
    local_cloud: CloudUnderTest,
) -> None:
    client = redis.Redis.from_url(local_cloud.endpoints["redis_url"])
    limiter = RedisRateLimiter(client, per_second=1.0, burst=5, draining_key="not-draining")
    sender = f"rate-{time.time_ns()}"

    # Six at once, as six single batches would be: then a batch waits about a second.
    assert limiter.acquire(sender, 3) == 0
    assert limiter.acquire(sender, 3) == 0
    assert 0.9 < limiter.acquire(sender) <= 1.0
    other = f"{sender}-b"
    assert limiter.acquire(other, 6) == 0, "a request the bound allows passes from rest"
    assert limiter.acquire(other, 1) > 0


def test_the_series_budget_holds_under_concurrent_writers_and_stays_packed(
    local_cloud: CloudUnderTest,
) -> None:
    client = redis.Redis.from_url(local_cloud.endpoints["redis_url"])
    budget = RedisSeriesBudget(client, keep_ms=60_000)
    host = f"budget-{time.time_ns()}"
    admitted: list[int] = []

    def write(writer: int) -> None:
        names = [f"s{writer}-{i}" for i in range(1500)]  # more than a script call's chunk
        admitted.append(sum(budget.admit(host, names, 2000)))

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert sum(admitted) == 2000  # of 6,000 new series, exactly the budget
    key = f"hp:series:{host}"
    assert client.scard(key) == 2000
    assert client.object("encoding", key) == b"intset"  # 8 bytes a series
    assert 0 < client.pttl(key) <= 60_000
    # known series stay admitted once the budget is full; new ones do not
    known = [f"s{w}-{i}" for w in range(4) for i in range(1500)]
    again = budget.admit(host, known, 2000)
    assert sum(again) == 2000
    assert budget.admit(host, ["new-one"], 2000) == [False]
