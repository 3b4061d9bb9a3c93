"""Series and queries both drawn by hypothesis: each example's series are backfilled into a
Prometheus 2.42 of its own and handed to hostpulse's engine (from memory: the storage path is
the oracle corpus' part), and every query answers the same from both, at an instant and over
a range. Gaps longer than the lookback, counter resets, repeated values, negative numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostpulse.core.tiers import default_tiers
from hostpulse.services.promql.model import Labels, PromQLError, labels_of
from hostpulse.services.promql.service import PromQLService, StepRange
from tests.prometheus_oracle import compare, prometheus_serving
from tests.promql_memory import MemorySeriesSource
from tests.promql_strategies import Vocabulary, expression

BASE_MS = 1_700_000_000_000  # a fixed past: the engine is told its tiers hold everything
WORDS = Vocabulary(
    gauges=("level",),
    counters=("served_total",),
    matchers=("", '{host="h1"}', '{kind=~"x|y"}', '{host!="h2"}', '{kind=""}'),
    groupings=("", " by (host)", " without (kind)", " by (kind)", " without (host, kind)"),
)
GAPS = st.sampled_from([1_000, 5_000, 15_000, 15_000, 15_000, 30_000, 60_000, 400_000])
VALUES = st.integers(-(10**6), 10**6).map(lambda i: i / 1000) | st.sampled_from([0.0, 1.0, 1.0])
Fleet = dict[Labels, list[tuple[int, float]]]


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    fleet: Fleet = {}
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(["level", "served_total"]))
        host, kind = (
            draw(st.sampled_from(["h1", "h2", "h3"])),
            draw(st.sampled_from(["x", "y", ""])),
        )
        labels = labels_of({"__name__": name, "host": host, "kind": kind})
        t, value, points = BASE_MS + draw(st.integers(0, 60_000)), 0.0, []
        for _ in range(draw(st.integers(1, 60))):
            t += draw(GAPS)
            if name == "level":
                value = draw(VALUES)
            else:
                value = 0.0 if draw(st.integers(0, 15)) == 0 else value + draw(st.integers(0, 50))
            points.append((t, value))
        fleet[labels] = points
    return fleet


def answered(call: Any) -> dict[str, Any]:
    try:
        return {"status": "success", "data": call().data()}
    except PromQLError as error:
        return {"status": "error", "errorType": error.error_type, "error": str(error)}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fleet=fleets(),
    query=expression(WORDS),
    instant_s=st.integers(0, 3600),
    span=st.tuples(st.integers(0, 1800), st.integers(0, 1800), st.sampled_from([5, 15, 60, 97])),
)
def test_drawn_series_and_queries_answer_as_prometheus_does(
    tmp_path_factory: Any, fleet: Fleet, query: str, instant_s: int, span: tuple[int, int, int]
) -> None:
    now = datetime.fromtimestamp(BASE_MS / 1000, UTC)  # every tier holds the series
    promql = PromQLService(MemorySeriesSource(fleet), default_tiers(), now=lambda: now)
    workdir: Path = tmp_path_factory.mktemp("drawn")
    with prometheus_serving(fleet, workdir) as prometheus:
        at_ms = BASE_MS + instant_s * 1000
        problems = compare(
            prometheus.instant(query, at_ms / 1000),
            answered(lambda: promql.instant(query, at_ms)),
            f"{query} @ {at_ms}",
        )
        start = BASE_MS + span[0] * 1000
        end, step = start + span[1] * 1000, span[2] * 1000
        problems += compare(
            prometheus.range(query, start / 1000, end / 1000, step / 1000),
            answered(lambda: promql.range(query, StepRange(start, end, step))),
            f"{query} over {start}..{end} every {step}",
        )
    assert not problems, "\n".join(problems[:10])


def test_topk_and_bottomk_keep_the_same_series_among_equal_values(tmp_path: Path) -> None:
    """Which of equal values topk keeps follows its heap's order in Prometheus (here b and c,
    not the first two a stable sort would keep); held to the real thing."""
    fleet: Fleet = {
        labels_of({"__name__": "level", "s": s}): [(BASE_MS, v)]
        for s, v in (("a", 3.0), ("b", 3.0), ("c", 5.0), ("d", 3.0), ("e", 5.0), ("f", 1.0))
    }
    now = datetime.fromtimestamp(BASE_MS / 1000, UTC)
    promql = PromQLService(MemorySeriesSource(fleet), default_tiers(), now=lambda: now)
    queries = [f"{op}({k}, level)" for op in ("topk", "bottomk") for k in (1, 2, 3, 4)]
    with prometheus_serving(fleet, tmp_path) as prometheus:
        problems = [
            problem
            for query in queries
            for problem in compare(
                prometheus.instant(query, BASE_MS / 1000),
                answered(lambda q=query: promql.instant(q, BASE_MS)),  # type: ignore[misc]
                query,
            )
        ]
    assert not problems, "\n".join(problems)
