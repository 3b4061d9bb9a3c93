from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hostpulse.adapters.postgres.metrics import series_edges
from hostpulse.core.tiers import (
    RangeError,
    RangeQuery,
    TierChoice,
    choose_tier,
    default_tiers,
    read_chain,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TIERS = default_tiers()


@pytest.mark.parametrize(
    ("span", "tier", "step_s"),
    [
        (timedelta(minutes=5), "raw", 1),  # the live view: points as sent
        (timedelta(minutes=30), "raw", 2),
        (timedelta(hours=1), "raw", 4),
        (timedelta(hours=6), "raw", 22),  # 1000 points of 22 s need raw, 1m is too coarse
        (timedelta(hours=24), "1m", 87),
        (timedelta(days=7), "5m", 605),  # 2,016 five-minute rows: at least half the budget
        (timedelta(days=30), "1h", 3600),  # 1m no longer holds the start
        (timedelta(days=90), "1h", 7776),  # 2160 hourly points, stepped to fit 1000
    ],
)
def test_the_finest_tier_within_the_budget(span: timedelta, tier: str, step_s: int) -> None:
    choice = choose_tier(TIERS, RangeQuery(NOW - span, NOW), NOW, max_points=1000)

    assert (choice.tier.name, choice.step_s) == (tier, step_s)


@pytest.mark.parametrize(
    ("span", "tier", "step_s", "rows"),
    [
        (timedelta(hours=24), "5m", 300, 288),
        (timedelta(days=7), "30m", 1800, 336),
        (timedelta(days=90), "6h", 21600, 360),
    ],
)
def test_the_host_page_views_read_about_as_many_rows_as_they_show(
    span: timedelta, tier: str, step_s: int, rows: int
) -> None:
    choice = choose_tier(TIERS, RangeQuery(NOW - span, NOW), NOW, max_points=400)

    assert (choice.tier.name, choice.step_s) == (tier, step_s)
    assert span.total_seconds() / choice.tier.resolution_s == rows  # 200 <= rows <= 400


def test_a_week_asked_a_moment_ago_still_reads_the_five_minute_tier() -> None:
    asked_at = NOW - timedelta(seconds=3)  # the browser's clock, and the request's latency

    week = choose_tier(TIERS, RangeQuery(asked_at - timedelta(days=7), asked_at), NOW, 1000)
    older = choose_tier(TIERS, RangeQuery(NOW - timedelta(days=7, hours=1), NOW), NOW, 1000)

    assert week.tier.name == "5m"
    assert older.tier.name == "30m", "beyond the slack the 5-minute tier no longer holds it"


def test_a_range_older_than_raw_skips_raw_even_if_short() -> None:
    start = NOW - timedelta(days=2)

    choice = choose_tier(TIERS, RangeQuery(start, start + timedelta(minutes=10)), NOW, 1000)

    assert choice.tier.name == "1m"


def test_a_forced_tier_and_step_are_honoured() -> None:
    choice = choose_tier(TIERS, RangeQuery(NOW - timedelta(hours=1), NOW, tier="1h"), NOW, 1000)
    assert (choice.tier.name, choice.step_s) == ("1h", 3600)

    stepped = choose_tier(TIERS, RangeQuery(NOW - timedelta(hours=1), NOW, step_s=300), NOW, 1000)
    assert (stepped.tier.name, stepped.step_s) == ("5m", 300)  # the tier of the step asked

    finer = choose_tier(
        TIERS, RangeQuery(NOW - timedelta(days=3), NOW, tier="1m", step_s=10), NOW, 10_000
    )
    assert finer.step_s == 60  # never finer than the tier holds


def test_an_empty_or_reversed_range_is_an_error() -> None:
    with pytest.raises(RangeError, match="'to' must be after 'from'"):
        choose_tier(TIERS, RangeQuery(NOW, NOW - timedelta(hours=1)), NOW, 1000)


def test_a_read_goes_down_from_its_tier_to_raw() -> None:
    by_name = {tier.name: tier for tier in TIERS}

    assert [t.name for t in read_chain(TIERS, by_name["6h"])] == [
        "6h", "1h", "30m", "5m", "1m", "raw",
    ]  # fmt: skip
    assert [t.name for t in read_chain(TIERS, by_name["5m"])] == ["5m", "1m", "raw"]
    assert [t.name for t in read_chain(TIERS, by_name["1m"])] == ["1m", "raw"]
    assert [t.name for t in read_chain(TIERS, by_name["raw"])] == ["raw"]


def test_each_tier_of_a_read_starts_where_the_one_above_stops() -> None:
    six_hours = TierChoice(next(t for t in TIERS if t.name == "6h"), 21600)
    start = NOW - timedelta(days=90)
    marks = {"6h": NOW - timedelta(hours=6), "1h": NOW - timedelta(hours=1)}
    # After the upgrade that made them rolled, the 1-hour tier started at the current hour while
    # the 30- and 5-minute ones started at the oldest minute: behind the tier they feed.
    marks |= {"30m": start - timedelta(days=1), "5m": NOW - timedelta(minutes=5)}
    marks |= {"1m": NOW - timedelta(minutes=3)}

    edges = series_edges(six_hours, marks, start, NOW)

    assert list(edges.values()) == [
        start,
        NOW - timedelta(hours=6),  # 6h rows up to its watermark
        NOW - timedelta(hours=1),  # then hourly ones
        NOW - timedelta(hours=1),  # no 30-minute rows: that tier is behind
        NOW - timedelta(minutes=5),  # five-minute rows up to theirs
        NOW - timedelta(minutes=3),  # then minutes
        NOW,  # and the newest samples
    ]
    assert list(edges) == [f"edge_{i}" for i in range(7)]


def test_edges_stay_within_the_range() -> None:
    five_minutes = TierChoice(next(t for t in TIERS if t.name == "5m"), 300)
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)

    assert series_edges(five_minutes, {"5m": NOW, "1m": NOW}, start, end) == {
        "edge_0": start, "edge_1": end, "edge_2": end, "edge_3": end,
    }  # fmt: skip
    behind = {"5m": start - timedelta(days=1), "1m": start - timedelta(days=1)}
    assert series_edges(five_minutes, behind, start, end) == {
        "edge_0": start, "edge_1": start, "edge_2": start, "edge_3": end,
    }  # fmt: skip
