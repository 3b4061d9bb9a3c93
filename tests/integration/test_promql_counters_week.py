"""A week of node_exporter-like counters (with reboots and restarts) stored by hostpulse and
backfilled into Prometheus 2.42: a 7-day panel of rate(...[1h]), as Grafana asks for it, reads
a rolled tier and answers as Prometheus does on the raw samples, within the tolerance that
docs/promql.md states."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hostpulse.core.contract import HostFacts, Sample
from hostpulse.core.tiers import default_tiers
from hostpulse.services.promql.service import PromQLService, StepRange
from tests.prometheus_oracle import (
    Fleet,
    PrometheusServer,
    compare,
    prometheus_serving,
    worst_scaled_error,
)
from tests.support import CloudUnderTest
from tests.tier_checks import database_holding, promql_reading

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
INTERVAL_MS = 15_000  # node_exporter's usual scrape interval
# A week and two hours that ended an hour ago; samples 7 s past each quarter minute, so that
# none falls on a bucket's edge (where a bucket and Prometheus' window part ways).
END_MS = (int(time.time() * 1000) // HOUR_MS - 1) * HOUR_MS
START_MS = END_MS - 7 * DAY_MS - 2 * HOUR_MS
HOST = "node-1"
# Each query, and the largest difference of any point over its series' mean on steps that do
# not fall on the 30-minute buckets' edges (docs/promql.md's table: measured, rounded up).
QUERIES = {
    'rate(node_cpu_seconds_total{mode="user"}[1h])': 0.11,
    "rate(node_network_receive_bytes_total[1h])": 1.30,  # bursts: where in a bucket is unknown
    "increase(http_requests_total[1h])": 0.13,
    "sum by (host) (rate(http_requests_total[1h]))": 0.13,
}
GRAFANA_STEP_MS = 600_000  # Grafana's step for a week on a wide panel


def build_week() -> Fleet:
    """A CPU counter that grows steadily, network bytes in bursts that reset when the host
    reboots (twice), and requests that reset when their process restarts (daily)."""
    rng = random.Random(37)
    fleet = Fleet()
    facts = HostFacts(hostname=HOST, os="Linux", cpu_count=2, labels={})
    cpu = received = requests = 0.0
    reboots = {START_MS + 2 * DAY_MS + 5 * HOUR_MS, START_MS + 5 * DAY_MS + 17 * HOUR_MS}
    for ts in range(START_MS + 7_000, END_MS, INTERVAL_MS):
        if any(r <= ts < r + INTERVAL_MS for r in reboots):
            cpu = received = 0.0
        if ts % DAY_MS < INTERVAL_MS:
            requests = 0.0
        cpu += rng.uniform(0.5, 14.5)
        received += rng.expovariate(1 / 20_000) * (50 if rng.random() < 0.02 else 1)
        requests += rng.randint(0, 40)
        custom = {
            "node_cpu_seconds_total:cpu=0,mode=user": round(cpu, 2),
            "node_network_receive_bytes_total:device=eth0": float(int(received)),
            "http_requests_total:code=200": requests,
        }
        fleet.add(facts, Sample(ts_ms=ts, custom=custom))
    return fleet


@pytest.fixture(scope="module")
def week() -> Fleet:
    return build_week()


@pytest.fixture(scope="module")
def database(local_cloud: CloudUnderTest, week: Fleet) -> Iterator[str]:
    with database_holding(local_cloud, "promql_week", week.batches(), datetime.now(UTC)) as url:
        yield url


@pytest.fixture(scope="module")
def promql(database: str) -> Iterator[PromQLService]:
    with promql_reading(database) as service:
        yield service


@pytest.fixture(scope="module")
def promql_eight_days(database: str) -> Iterator[PromQLService]:
    """The 1-minute tier kept eight days (HOSTPULSE_MINUTE_RETENTION_DAYS=8)."""
    with promql_reading(database, default_tiers(minute=timedelta(days=8))) as service:
        yield service


@pytest.fixture(scope="module")
def prometheus(week: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with prometheus_serving(week.series(), tmp_path_factory.mktemp("prometheus-week")) as server:
        yield server


def both(
    promql: PromQLService, prometheus: PrometheusServer, query: str, step: int, tier: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A week of steps to an edge an hour ago, from hostpulse (reading ``tier``) and Prometheus."""
    start, end = END_MS - 7 * DAY_MS, END_MS
    answer = promql.range(query, StepRange(start, end, step))
    assert answer.tier == tier
    theirs = prometheus.range(query, start / 1000, end / 1000, step / 1000)
    assert theirs["data"]["result"]
    return theirs, {"status": "success", "data": answer.data()}


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_a_week_of_rate_on_the_buckets_edges_is_prometheus_own(
    promql: PromQLService, prometheus: PrometheusServer, query: str
) -> None:
    """A week and an hour back is past the 1-minute tier's seven days: the 30-minute tier.
    Steps of 30 minutes from a 30-minute edge: every window is whole buckets."""
    theirs, ours = both(promql, prometheus, query, 1_800_000, "30m")
    assert not compare(theirs, ours, query)


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_a_week_of_rate_as_grafana_asks_stays_within_the_stated_error(
    promql: PromQLService, prometheus: PrometheusServer, query: str
) -> None:
    """Steps of 10 minutes: two windows in three reach into a 30-minute bucket at each end,
    and the whole buckets inside are extrapolated to the window."""
    theirs, ours = both(promql, prometheus, query, GRAFANA_STEP_MS, "30m")
    assert steps_of(ours) == steps_of(theirs)  # a value at every step Prometheus has one
    error = worst_scaled_error(theirs, ours)
    assert error <= QUERIES[query], f"{query}: {error:.1%} off, stated {QUERIES[query]:.0%}"


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_a_week_of_rate_from_an_eight_day_minute_tier_is_prometheus_own(
    promql_eight_days: PromQLService, prometheus: PrometheusServer, query: str
) -> None:
    """With the 1-minute tier kept eight days, the same panel reads it, and Grafana's steps
    fall on its buckets' edges: Prometheus' answer, point for point."""
    theirs, ours = both(promql_eight_days, prometheus, query, GRAFANA_STEP_MS, "1m")
    assert not compare(theirs, ours, query)


def steps_of(body: dict[str, Any]) -> dict[tuple[Any, ...], list[Any]]:
    return {
        tuple(sorted(r["metric"].items())): [t for t, _ in r["values"]]
        for r in body["data"]["result"]
    }
