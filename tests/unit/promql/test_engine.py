"""The PromQL service on an in-memory source: what it refuses and how, its limits, the tier it
picks, and the answers' wire format. (That its answers are Prometheus' is the oracle tests'.)"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.core.tiers import default_tiers
from hostpulse.services.promql.gomath import format_fixed, format_value, format_values
from hostpulse.services.promql.model import (
    BucketStats,
    Labels,
    PromQLError,
    StoredSeries,
    labels_of,
)
from hostpulse.services.promql.params import parse_duration, parse_time
from hostpulse.services.promql.service import PromQLService, QueryLimits, StepRange
from tests.fakes import MemoryMetadataStore
from tests.promql_memory import MemorySeriesSource

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


Points = dict[Labels, list[tuple[int, float]]]


def series(name: str, host: str, values: list[float], every_ms: int = 15_000) -> Points:
    labels = labels_of({"__name__": name, "host": host})
    first = NOW_MS - every_ms * len(values)
    return {labels: [(first + i * every_ms, v) for i, v in enumerate(values)]}


def service(limits: QueryLimits | None = None, hosts: int = 3) -> PromQLService:
    data: Points = {}
    for i in range(hosts):
        data |= series("load", f"h{i}", [float(i + j) for j in range(40)])
    return PromQLService(MemorySeriesSource(data), default_tiers(), limits, now=lambda: NOW)


def refused(call, error_type: str = "bad_data") -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(PromQLError) as caught:
        call()
    assert caught.value.error_type == error_type, str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("histogram_quantile(0.9, load)", "histogram_quantile()"),
        ("limitk(1, load)", "limitk()"),
        ('load{host="a" or host="b"}', "'or' inside a selector's braces"),
        ("info(load)", "info()"),
        ('sort_by_label(load, "host")', "sort_by_label()"),
    ],
)
def test_what_is_not_evaluated_is_named(query: str, named: str) -> None:
    message = refused(lambda: service().instant(query, NOW_MS))
    assert named in message and "not supported" in message


@pytest.mark.parametrize("query", ["", "sum(", "load[5m", "rate(load)", "load @ -100", "1 and 2"])
def test_a_query_that_does_not_parse_is_bad_data(query: str) -> None:
    refused(lambda: service().instant(query, NOW_MS))


def test_instant_answers_in_prometheus_format() -> None:
    answer = service().instant("sum(load)", NOW_MS)
    assert answer.data() == {
        "resultType": "vector",
        "result": [{"metric": {}, "value": [NOW_MS // 1000, "120"]}],
    }
    assert service().instant("1 / 3", NOW_MS + 500).data()["result"] == [
        (NOW_MS + 500) / 1000,
        "0.3333333333333333",
    ]
    assert service().instant('"text"', NOW_MS).data() == {
        "resultType": "string",
        "result": [NOW_MS // 1000, "text"],
    }


def test_a_range_selector_at_an_instant_is_a_matrix_of_its_samples() -> None:
    answer = service(hosts=1).instant("load[1m]", NOW_MS - 15_000)
    (only,) = answer.data()["result"]
    assert [v for _, v in only["values"]] == ["35", "36", "37", "38", "39"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (StepRange(NOW_MS, NOW_MS - 1, 1000), "end timestamp must not be before start time"),
        (StepRange(NOW_MS, NOW_MS, 0), "zero or negative query resolution step"),
        (
            StepRange(NOW_MS - 11_001_000, NOW_MS, 1000),
            "exceeded maximum resolution of 11,000 points",
        ),
    ],
)
def test_a_range_prometheus_refuses_is_refused_alike(steps: StepRange, message: str) -> None:
    assert message in refused(lambda: service().range("load", steps))


def test_a_range_query_of_a_range_vector_is_refused() -> None:
    steps = StepRange(NOW_MS - 60_000, NOW_MS, 15_000)
    assert "range vector" in refused(lambda: service().range("load[5m]", steps))


def test_a_selector_touching_too_many_series_is_refused_before_it_is_read() -> None:
    promql = service(QueryLimits(max_series=2))
    message = refused(lambda: promql.instant("load", NOW_MS), "execution")
    assert "3 series" in message
    assert promql.source.series_read == 0  # type: ignore[attr-defined]


def test_too_many_samples_are_refused() -> None:
    limits = QueryLimits(max_samples=1000)
    steps = StepRange(NOW_MS - 600_000, NOW_MS, 1000)
    refused(lambda: service(limits).range("load", steps), "execution")
    refused(lambda: service(limits).instant("max_over_time(load[1d:1s])", NOW_MS), "execution")


def test_a_query_past_its_time_is_a_timeout() -> None:
    slow = service(QueryLimits(timeout_s=0.001))
    original = time.monotonic
    clock = iter([original(), original() + 10, original() + 20, original() + 30] * 1000)
    try:
        time.monotonic = lambda: next(clock)  # type: ignore[assignment]
        refused(lambda: slow.instant("sum(load)", NOW_MS), "timeout")
    finally:
        time.monotonic = original  # type: ignore[assignment]


def test_an_unknown_tier_is_refused_and_a_known_one_is_read() -> None:
    assert "unknown tier" in refused(lambda: service().instant("load", NOW_MS, tier="2m"))
    assert service().instant("load", NOW_MS, tier="1h").tier == "1h"


@pytest.mark.parametrize(
    ("reach", "tier"),
    [
        ("load", "raw"),
        ("max_over_time(load[2h])", "raw"),
        ("max_over_time(load[4h])", "1m"),
        ("max_over_time(load[7d])", "1m"),
        ("max_over_time(load[8d])", "30m"),
        ("load offset 30d", "30m"),
        ("max_over_time(load[200d])", "6h"),
    ],
)
def test_the_finest_tier_within_the_budget_is_read(reach: str, tier: str) -> None:
    assert service().instant(reach, NOW_MS).tier == tier


def test_values_are_written_as_prometheus_writes_them() -> None:
    cases = {1.0: "1", 0.1: "0.1", -0.0: "-0", 1e20: "100000000000000000000", 1e21: "1e+21",
             1.5e-7: "1.5e-07", 1e-6: "0.000001", 123.456: "123.456", float("inf"): "+Inf",
             float("-inf"): "-Inf", float("nan"): "NaN", 3e16: "30000000000000000"}  # fmt: skip
    for value, text in cases.items():
        assert format_value(value) == text, value
    assert format_fixed(1.5e-7) == "0.00000015"


@settings(max_examples=300)
@given(st.lists(st.floats() | st.floats(-1e7, 1e7).map(round).map(float), max_size=40))
def test_a_series_is_written_as_each_of_its_values_is(values: list[float]) -> None:
    assert format_values(values) == [format_value(v) for v in values]


def test_parameters_are_read_as_prometheus_reads_them() -> None:
    assert parse_time("1700000000.123", "time") == 1_700_000_000_123
    assert parse_time("2023-11-14T22:13:20Z", "time") == 1_700_000_000_000
    assert parse_time("2023-11-14T22:13:20.5+00:00", "time") == 1_700_000_000_500
    assert parse_duration("15", "step") == 15_000
    assert parse_duration("1m30s", "step") == 90_000
    assert parse_duration("0.5", "step") == 500
    for bad in ("", "soon", "NaN", "inf", "1e300", "2023-11-14T22:13:20"):
        with pytest.raises(PromQLError):
            parse_time(bad, "time")
    for bad in ("", "5 minutes", "1e300", "-inf"):
        with pytest.raises(PromQLError):
            parse_duration(bad, "step")


def test_label_names_values_and_series_come_from_the_catalogue() -> None:
    promql = service()
    span = (NOW_MS - 3_600_000, NOW_MS)
    assert promql.label_names(["load"], *span, 100) == ["__name__", "host"]
    assert promql.label_values("host", ['{__name__="load"}'], *span, 2) == ["h0", "h1"]
    assert promql.series(['load{host=~"h[12]"}'], *span, 100) == [
        {"__name__": "load", "host": "h1"},
        {"__name__": "load", "host": "h2"},
    ]
    assert "not a series selector" in refused(lambda: promql.series(["sum(load)"], *span, 10))


def test_a_regular_expression_never_runs_away() -> None:
    started = time.monotonic()
    promql = PromQLService(
        MemorySeriesSource(series("load", "a" * 5000, [1.0])), default_tiers(), now=lambda: NOW
    )
    assert promql.instant('load{host=~"(a+)+b"}', NOW_MS).data()["result"] == []
    assert time.monotonic() - started < 5  # backtracking would take longer than the universe


def test_a_bad_regular_expression_is_bad_data() -> None:
    refused(lambda: service().instant('load{host=~"("}', NOW_MS))
    assert "label_replace" in refused(
        lambda: service().instant('label_replace(load, "a", "$1", "host", "(")', NOW_MS),
        "execution",
    )


def test_retention_decides_which_tiers_hold_a_range() -> None:
    old = NOW - timedelta(days=30)
    assert service().instant("load", int(old.timestamp() * 1000)).tier == "30m"


class BucketSource(MemorySeriesSource):
    """One series as 30-minute buckets (sampled every minute), as a rolled tier reads it."""

    def select(self, matchers, span, tier, max_series):  # type: ignore[no-untyped-def]
        width = 1_800_000
        starts = list(range(NOW_MS - 10 * width, NOW_MS - 4 * width, width))  # then it stops
        labels = labels_of({"__name__": "load", "host": "h0"})
        return [
            StoredSeries(
                labels,
                times=[s + width - 60_000 for s in starts],
                values=[float(i) for i in range(len(starts))],
                starts=starts,
                ends=[s + width for s in starts],
                stats=[BucketStats(0.0, 1.0, 30.0, 30) for _ in starts],
            )
        ]


def test_between_bucket_edges_a_rolled_series_stays_present_until_it_ends() -> None:
    promql = PromQLService(BucketSource({}), default_tiers(), now=lambda: NOW)
    mid_bucket = NOW_MS - 8 * 1_800_000 + 900_000  # 15 minutes into a bucket
    (found,) = promql.instant("load", mid_bucket).data()["result"]
    assert found["value"][1] == "1"  # the bucket before: the one holding the step has not ended
    after_the_end = NOW_MS - 4 * 1_800_000 + 900_000  # past its last bucket by more than 5 min
    assert promql.instant("load", after_the_end).data()["result"] == []
    on_the_edge = NOW_MS - 4 * 1_800_000 + 60_000  # a minute after the last sample ended it
    assert promql.instant("load", on_the_edge).data()["result"][0]["value"][1] == "5"


DURATIONS = st.sampled_from(["1ms", "1s", "5m", "1h", "7d", "1y", "10000y", "292y"])
EDGES = st.sampled_from(["0", "1", "-1", "1e11", "1e20", "-1e20", "9999999999", "2e9"])


@settings(max_examples=300, deadline=None)
@given(
    query=st.one_of(
        st.builds(lambda d, o: f"max_over_time(load[{d}] offset {o})", DURATIONS, DURATIONS),
        st.builds(lambda d, o: f"load offset -{o} @ {d}", EDGES, DURATIONS),
        st.builds(lambda d, s: f"count_over_time(vector(1)[{d}:{s}])", DURATIONS, DURATIONS),
        st.builds(lambda a, d: f"rate(load[{d}] @ {a})", EDGES, DURATIONS),
        st.builds(lambda e: f"timestamp(load @ {e}) + time()", EDGES),
        st.text(max_size=40),
    ),
    at=st.integers(-(2**40), 2**45),
)
def test_no_query_at_any_time_escapes_as_anything_but_prometheus_error(query: str, at: int) -> None:
    """Whatever the reach of a query (ranges and offsets of ten thousand years, an @ past the
    year 9999, text that is no query), it answers or is refused as Prometheus refuses."""
    try:
        service(QueryLimits(max_samples=100_000)).instant(query, at)
    except PromQLError as error:
        assert error.error_type in ("bad_data", "execution", "timeout")


def test_metadata_holds_what_remote_write_senders_said_beside_hostpulses_own() -> None:
    sent = MemoryMetadataStore()
    sent.save({"node_load1": ("gauge", "1m load average.", ""),
               "hostpulse_load1": ("counter", "a sender may not redefine ours", "")})  # fmt: skip
    promql = PromQLService(MemorySeriesSource({}), default_tiers(), now=lambda: NOW,
                           metadata_source=sent)  # fmt: skip
    answer = promql.metadata(None, -1)
    assert answer["node_load1"] == [{"type": "gauge", "help": "1m load average.", "unit": ""}]
    assert answer["hostpulse_load1"][0]["type"] == "gauge"
    assert promql.metadata("node_load1", -1) == {"node_load1": answer["node_load1"]}
