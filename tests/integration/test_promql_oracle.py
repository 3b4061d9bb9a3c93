"""PromQL answers checked against Prometheus 2.42 on the same samples: three hosts' own
metrics (under the names table's names) and series of their own (counters with resets, gauges
with gaps, a series that stops), stored by hostpulse and backfilled into Prometheus with
promtool; every query of the corpus is asked of both, instant and over a range."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostpulse.core.contract import HostFacts
from hostpulse.services.promql.model import PromQLError
from hostpulse.services.promql.service import PromQLService, StepRange
from hostpulse.simulation.host import SyntheticHost
from tests.prometheus_oracle import (
    Fleet,
    PrometheusServer,
    compare,
    prometheus_serving,
    worst_scaled_error,
)
from tests.promql_strategies import expression
from tests.support import CloudUnderTest
from tests.tier_checks import database_holding, promql_reading

# The fleet is written, rolled up and backfilled into Prometheus once: more than a fast test.
pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# Three whole hours that ended at least an hour ago; samples 7 s past each quarter minute,
# so that none falls on a minute's edge (where a bucket and Prometheus' window part ways).
BASE_MS = (int(time.time() * 1000) // HOUR_MS - 4) * HOUR_MS
INTERVAL_MS = 15_000
SAMPLES = 3 * HOUR_MS // INTERVAL_MS
HOSTS = {"web-1": {"env": "prod", "role": "web"}, "web-2": {"env": "prod", "role": "web"},
         "db-1": {"env": "dev", "role": "db"}}  # fmt: skip


ROLLED_UNTIL_MS = BASE_MS + 2 * HOUR_MS


def at(minutes: float) -> int:
    return BASE_MS + int(minutes * MINUTE_MS)


def build_fleet() -> Fleet:
    fleet = Fleet()
    rng = random.Random(36)
    for host, labels in HOSTS.items():
        synthetic = SyntheticHost(host, cores=2, processes=0)
        facts = HostFacts(hostname=host, os="Linux", cpu_count=2, labels=labels)
        ok = err = 0.0
        depth = 10.0
        for i in range(SAMPLES):
            ts = BASE_MS + 7_000 + i * INTERVAL_MS
            minute = (ts - BASE_MS) / MINUTE_MS
            if host == "db-1" and 90 <= minute < 105:
                continue  # the host is away for a quarter of an hour
            ok += rng.randint(0, 50)
            err += rng.choice([0, 0, 0, 1])
            if host == "web-1" and i in (240, 500):
                ok = float(rng.randint(0, 5))  # the process restarted: the counter resets
            depth = max(-5.0, depth + rng.uniform(-3, 3))
            custom = {
                "http_requests_total:code=200,method=get": ok,
                "http_requests_total:code=500,method=get": err,
                "temperature_celsius:sensor=cpu": round(40 + rng.uniform(-5, 5), 2),
            }
            if not (host == "web-2" and minute >= 150):
                custom["queue_depth"] = round(depth, 3)  # web-2's queue goes away
            sample = synthetic.sample(ts).model_copy(update={"custom": custom, "processes": []})
            fleet.add(facts, sample)
    return fleet


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return build_fleet()


@pytest.fixture(scope="module")
def database(local_cloud: CloudUnderTest, fleet: Fleet) -> Iterator[str]:
    # Rolled up to two hours in: later buckets are read from the tiers below, down to raw.
    with database_holding(
        local_cloud,
        "promql_oracle",
        fleet.batches(),
        datetime.fromtimestamp(ROLLED_UNTIL_MS / 1000, UTC),
    ) as url:
        yield url


@pytest.fixture(scope="module")
def promql(database: str) -> Iterator[PromQLService]:
    with promql_reading(database) as service:
        yield service


@pytest.fixture(scope="module")
def prometheus(
    fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    with prometheus_serving(fleet.series(), tmp_path_factory.mktemp("prometheus")) as server:
        yield server


def ours_instant(
    promql: PromQLService, query: str, at_ms: int, tier: str | None = None
) -> dict[str, Any]:
    try:
        answer = promql.instant(query, at_ms, tier=tier)
    except PromQLError as error:
        return {"status": "error", "errorType": error.error_type, "error": str(error)}
    return {"status": "success", "data": answer.data()}


def ours_range(
    promql: PromQLService, query: str, start: int, end: int, step: int, tier: str | None = None
) -> dict[str, Any]:
    try:
        answer = promql.range(query, StepRange(start, end, step), tier=tier)
    except PromQLError as error:
        return {"status": "error", "errorType": error.error_type, "error": str(error)}
    return {"status": "success", "data": answer.data()}


CORPUS = [
    # selectors
    "hostpulse_cpu_percent",
    'hostpulse_cpu_percent{mode="total"}',
    'hostpulse_cpu_percent{mode!="total"}',
    'hostpulse_cpu_percent{host=~"web-.*", mode="user"}',
    'hostpulse_cpu_percent{host!~"web-.*"}',
    'hostpulse_cpu_core_percent{core="1"}',
    '{__name__=~"hostpulse_load(1|5)", env="prod"}',
    "hostpulse_filesystem_used_percent",
    "hostpulse_memory_used_bytes offset 10m",
    "queue_depth",
    "queue_depth offset 30m",
    f"queue_depth @ {at(100) / 1000}",
    "http_requests_total",
    'http_requests_total{code="500"}',
    "temperature_celsius",
    # arithmetic and comparison
    "hostpulse_memory_used_bytes / hostpulse_memory_total_bytes * 100",
    "hostpulse_memory_used_bytes / 1024 / 1024",
    "-queue_depth",
    "queue_depth * -1 + 3",
    "queue_depth % 4",
    "queue_depth ^ 2",
    "2 ^ 3 ^ 2",
    "1 + 1",
    "10 / 0",
    "-10 / 0",
    "0 / 0",
    "queue_depth / 0",
    "queue_depth > 10",
    "queue_depth > bool 10",
    "10 < queue_depth",
    "10 < bool queue_depth",
    "queue_depth == bool queue_depth",
    "queue_depth != 10",
    "queue_depth >= 10 <= 15",
    "1 == bool 1",
    "3 > bool 4",
    'hostpulse_cpu_percent{mode="user"} + on(host) hostpulse_cpu_percent{mode="system"}',
    'hostpulse_cpu_percent{mode="user"} + ignoring(mode) hostpulse_cpu_percent{mode="system"}',
    'hostpulse_cpu_percent{mode="user"} > on(host) hostpulse_cpu_percent{mode="system"}',
    'hostpulse_cpu_percent{mode="user"} > bool ignoring(mode) hostpulse_cpu_percent{mode="system"}',
    'hostpulse_cpu_core_percent / on(host) group_left hostpulse_cpu_percent{mode="total"}',
    'hostpulse_cpu_percent{mode="total"} / on(host) group_right hostpulse_cpu_core_percent',
    "hostpulse_cpu_core_percent * on(host) group_left(role) (hostpulse_load1 * 0 + 1)",
    "http_requests_total / ignoring(code) group_left sum without(code) (http_requests_total)",
    "hostpulse_cpu_percent / hostpulse_cpu_percent",
    'hostpulse_cpu_core_percent + hostpulse_cpu_percent{mode="total"}',
    "hostpulse_load1 atan2 hostpulse_load5",
    # set operators
    "queue_depth and temperature_celsius",
    "queue_depth and on(host) hostpulse_load1 > 1",
    "queue_depth or temperature_celsius",
    "queue_depth or on(host) temperature_celsius",
    "temperature_celsius unless queue_depth",
    "temperature_celsius unless on(host) queue_depth",
    "queue_depth unless on(env) (hostpulse_load1 > 100)",
    # aggregations
    "sum(hostpulse_cpu_core_percent)",
    "sum by (host) (hostpulse_cpu_core_percent)",
    "sum without (core) (hostpulse_cpu_core_percent)",
    "avg by (env) (hostpulse_cpu_percent)",
    "avg(queue_depth)",
    "min by (mode) (hostpulse_cpu_percent)",
    "max(hostpulse_cpu_percent) by (mode)",
    "count(hostpulse_cpu_core_percent)",
    "count by (env) (queue_depth)",
    "stddev(queue_depth)",
    "stdvar by (env) (temperature_celsius)",
    "topk(2, queue_depth)",
    'bottomk(1, hostpulse_cpu_percent{mode="total"})',
    "topk by (host) (1, hostpulse_cpu_core_percent)",
    "quantile(0.9, hostpulse_cpu_percent)",
    "quantile by (mode) (0.5, hostpulse_cpu_percent)",
    "quantile(0, queue_depth)",
    "quantile(1.5, queue_depth)",
    'count_values("cores", count by (host) (hostpulse_cpu_core_percent))',
    'count_values by (env) ("v", round(queue_depth))',
    "group by (env, role) (hostpulse_load1)",
    "group(queue_depth)",
    "sum(http_requests_total) by (code)",
    'sum by (__name__) ({__name__=~"hostpulse_load.*"})',
    # counters
    "rate(http_requests_total[5m])",
    "rate(http_requests_total[1m])",
    "rate(http_requests_total[30s])",
    "rate(http_requests_total[15s])",
    "irate(http_requests_total[5m])",
    "increase(http_requests_total[10m])",
    "increase(http_requests_total[1h])",
    "sum by (code) (rate(http_requests_total[5m]))",
    'sum by (host) (rate(http_requests_total{code="500"}[10m]))'
    " / sum by (host) (rate(http_requests_total[10m]))",
    "resets(http_requests_total[1h])",
    "changes(queue_depth[10m])",
    "rate(http_requests_total[5m] offset 10m)",
    f"rate(http_requests_total[5m] @ {at(61) / 1000})",
    # gauges over time
    "delta(queue_depth[10m])",
    "idelta(queue_depth[5m])",
    "deriv(queue_depth[10m])",
    "predict_linear(queue_depth[30m], 3600)",
    "predict_linear(hostpulse_filesystem_used_bytes[1h], 4 * 3600)",
    "avg_over_time(queue_depth[10m])",
    "min_over_time(queue_depth[10m])",
    "max_over_time(hostpulse_cpu_percent[5m])",
    "sum_over_time(queue_depth[5m])",
    "count_over_time(queue_depth[10m])",
    "last_over_time(queue_depth[10m])",
    "quantile_over_time(0.9, queue_depth[15m])",
    "quantile_over_time(0.5, temperature_celsius[5m])",
    "stddev_over_time(queue_depth[10m])",
    "stdvar_over_time(temperature_celsius[10m])",
    "present_over_time(queue_depth[10m])",
    'absent_over_time(queue_depth{host="web-2"}[10m])',
    'absent_over_time(nonexistent{job="x"}[5m])',
    "avg_over_time(queue_depth[10m] offset 1h)",
    # functions
    "abs(queue_depth)",
    "ceil(queue_depth)",
    "floor(queue_depth)",
    "round(queue_depth)",
    "round(queue_depth, 5)",
    "round(queue_depth, 0.1)",
    "clamp(queue_depth, 0, 12)",
    "clamp(queue_depth, 12, 0)",
    "clamp_min(queue_depth, 10)",
    "clamp_max(queue_depth, 10)",
    "exp(hostpulse_load1)",
    "ln(queue_depth)",
    "log2(hostpulse_memory_total_bytes)",
    "log10(queue_depth)",
    "sqrt(queue_depth)",
    "sgn(queue_depth)",
    "scalar(sum(queue_depth))",
    'scalar(queue_depth{host="web-1"}) * 2',
    "scalar(queue_depth)",
    "vector(1)",
    "vector(time())",
    "time()",
    "time() - 60",
    "timestamp(queue_depth)",
    "timestamp(queue_depth offset 5m)",
    "timestamp(abs(queue_depth))",
    "time() - timestamp(queue_depth)",
    'absent(queue_depth{host="web-2"})',
    'absent(nonexistent{host="web-1", code=~"5.."})',
    "absent(queue_depth)",
    'label_replace(queue_depth, "site", "$1", "host", "(.*)-.*")',
    'label_replace(queue_depth, "host", "", "host", "web-1")',
    'label_replace(queue_depth, "x", "$2-$1", "host", "([a-z]+)-([0-9])")',
    'label_join(queue_depth, "where", "/", "env", "role", "host")',
    'label_join(queue_depth, "env", "")',
    "sort(queue_depth)",
    "sort_desc(queue_depth)",
    "sort_desc(sum by (host) (hostpulse_cpu_core_percent))",
    "year()",
    "month()",
    "day_of_month()",
    "day_of_week()",
    "day_of_year()",
    "days_in_month()",
    "hour()",
    "minute()",
    "hour(timestamp(queue_depth))",
    "minute(queue_depth * 1000)",
    # subqueries
    "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    "avg_over_time(queue_depth[10m:30s])",
    "min_over_time(sum(queue_depth)[15m:])",
    "rate(http_requests_total[5m])[10m:2m]",
    "max_over_time(deriv(queue_depth[5m])[20m:5m] offset 5m)",
    "sum_over_time(vector(1)[5m:1m])",
    # errors
    "sum(",
    "rate(queue_depth)",
    'label_replace(queue_depth, "1x", "$1", "host", "(.*)")',
    'count_values("1x", queue_depth)',
    "hostpulse_cpu_core_percent + hostpulse_cpu_percent",
    "queue_depth + on() hostpulse_load1",
]

INSTANT_AT = [at(45) + 3_000, at(97), at(152.5), at(179)]


def test_the_corpus_holds_at_least_150_queries() -> None:
    assert len(CORPUS) >= 150
    assert len(set(CORPUS)) == len(CORPUS)


def test_every_query_answers_as_prometheus_does_at_instants(
    promql: PromQLService, prometheus: PrometheusServer
) -> None:
    problems = []
    for query in CORPUS:
        for at_ms in INSTANT_AT:
            problems += compare(
                prometheus.instant(query, at_ms / 1000),
                ours_instant(promql, query, at_ms),
                f"{query} @ {at_ms}",
            )
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all)"


def test_every_query_answers_as_prometheus_does_over_a_range(
    promql: PromQLService, prometheus: PrometheusServer
) -> None:
    start, end, step = at(61) + 2_000, at(178), 45_000  # with 1 h ranges: under 3 h, raw
    problems = []
    for query in CORPUS:
        theirs = prometheus.range(query, start / 1000, end / 1000, step / 1000)
        problems += compare(theirs, ours_range(promql, query, start, end, step), query)
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all)"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=expression(),
    instant=st.integers(20 * 60, 178 * 60),
    span=st.tuples(
        st.integers(40 * 60, 120 * 60),
        st.integers(5, 55 * 60),
        st.sampled_from([15, 30, 45, 60, 61, 300]),
    ),
)
def test_generated_queries_answer_as_prometheus_does(
    promql: PromQLService,
    prometheus: PrometheusServer,
    query: str,
    instant: int,
    span: tuple[int, int, int],
) -> None:
    at_ms = BASE_MS + instant * 1000
    problems = compare(
        prometheus.instant(query, at_ms / 1000),
        ours_instant(promql, query, at_ms),
        f"{query} @ {at_ms}",
    )
    start = BASE_MS + span[0] * 1000
    end, step = start + span[1] * 1000, span[2] * 1000
    theirs = prometheus.range(query, start / 1000, end / 1000, step / 1000)
    problems += compare(
        theirs,
        ours_range(promql, query, start, end, step),
        f"{query} over {start}..{end} every {step}",
    )
    assert not problems, "\n".join(problems[:10])


# Functions over time that a rolled tier answers exactly on windows aligned to its buckets,
# and the instant value (a bucket's last sample, at its time). web-1's request counter resets
# twice, once within a 1-minute bucket and, rolled further, within coarser ones.
EXACT_ON_TIERS = [
    "rate(http_requests_total[{w}])",
    "increase(http_requests_total[{w}])",
    'sum by (host) (rate(http_requests_total{{code="200"}}[{w}]))',
    "max_over_time(queue_depth[{w}])",
    "min_over_time(temperature_celsius[{w}])",
    "avg_over_time(queue_depth[{w}])",
    "sum_over_time(http_requests_total[{w}])",
    "count_over_time(queue_depth[{w}])",
    'max by (host) (max_over_time(hostpulse_cpu_percent{{mode="total"}}[{w}]))',
    "avg_over_time(hostpulse_memory_used_bytes[{w}]) / 1024",
    "last_over_time(queue_depth[{w}])",
    "present_over_time(queue_depth[{w}])",
    "queue_depth",
    "sum by (env) (hostpulse_load1)",
    "timestamp(queue_depth)",
]
TIER_WINDOWS = {"1m": ("5m", 60), "5m": ("15m", 300), "30m": ("1h", 1800)}


@pytest.mark.parametrize("tier", sorted(TIER_WINDOWS))
def test_a_rolled_tier_answers_aligned_windows_as_prometheus_does_on_raw_samples(
    promql: PromQLService, prometheus: PrometheusServer, tier: str
) -> None:
    window, step_s = TIER_WINDOWS[tier]
    step = step_s * 1000
    start = (at(61) // step + 1) * step  # aligned; the windows reach back into the data
    end = (at(180) // step) * step  # past the rollup's end: the newest buckets come from below
    assert start < ROLLED_UNTIL_MS < end
    problems = []
    for template in EXACT_ON_TIERS:
        query = template.format(w=window)
        theirs = prometheus.range(query, start / 1000, end / 1000, step_s)
        ours = ours_range(promql, query, start, end, step, tier=tier)
        problems += compare(theirs, ours, f"{query} from the {tier} tier")
    assert not problems, "\n".join(problems[:20])


def test_a_long_range_reads_a_rolled_tier_and_still_agrees_where_aligned(
    promql: PromQLService, prometheus: PrometheusServer
) -> None:
    start, end = BASE_MS - 4 * HOUR_MS, at(180) // MINUTE_MS * MINUTE_MS
    query = "max_over_time(queue_depth[5m])"
    answer = promql.range(query, StepRange(start, end, 300_000))
    assert answer.tier == "1m"  # seven hours at one point a second would pass the budget
    theirs = prometheus.range(query, start / 1000, end / 1000, 300)
    assert not compare(theirs, {"status": "success", "data": answer.data()}, query)


# Functions the buckets cannot answer exactly: they read each bucket's last sample as a series
# sampled at the tier's resolution. How far they land from Prometheus on the raw samples: the
# largest difference of any point, over its series' mean absolute value (a rate of a counter
# that rarely moves is near zero, so a relative error per point says little). The bounds are
# docs/promql.md's table (measured, rounded up): a change that makes one worse fails here.
APPROXIMATE_ON_TIERS = (
    "irate(http_requests_total[{w}])",
    "deriv(queue_depth[{w}])",
    "delta(queue_depth[{w}])",
    "quantile_over_time(0.5, temperature_celsius[{w}])",
    "stddev_over_time(temperature_celsius[{w}])",
)
STATED_ERROR = {  # (tier, window): the bound of each function above, in its order
    ("1m", "5m"): (3.10, 2.40, 1.60, 0.15, 0.90),
    ("1m", "30m"): (3.40, 1.70, 0.85, 0.06, 0.30),
    ("5m", "50m"): (4.70, 1.30, 2.00, 0.08, 0.45),
    ("30m", "2h"): (2.90, 4.50, 3.05, 0.07, 0.80),
}


@pytest.mark.parametrize(("tier", "window"), sorted(STATED_ERROR))
def test_what_a_rolled_tier_approximates_stays_within_its_stated_error(
    promql: PromQLService, prometheus: PrometheusServer, tier: str, window: str
) -> None:
    step = {"1m": 60_000, "5m": 300_000, "30m": 1_800_000}[tier]
    start, end = (at(61) // step + 1) * step, (at(180) // step) * step
    problems = []
    for template, bound in zip(APPROXIMATE_ON_TIERS, STATED_ERROR[(tier, window)], strict=True):
        query = template.format(w=window)
        theirs = prometheus.range(query, start / 1000, end / 1000, step / 1000)
        error = worst_scaled_error(theirs, ours_range(promql, query, start, end, step, tier=tier))
        if error > bound:
            problems.append(f"{query} from the {tier} tier: {error:.1%} off, stated {bound:.0%}")
    assert not problems, "\n".join(problems)
