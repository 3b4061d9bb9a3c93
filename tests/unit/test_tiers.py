from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hostpulse.tiers import RangeError, RangeQuery, choose_tier, default_tiers

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
        (timedelta(days=7), "1m", 605),  # the week view reads the 1-minute tier
        (timedelta(days=30), "1h", 3600),  # 1m no longer holds the start
        (timedelta(days=90), "1h", 7776),  # 2160 hourly points, stepped to fit 1000
    ],
)
def test_the_finest_tier_within_the_budget(span: timedelta, tier: str, step_s: int) -> None:
    choice = choose_tier(TIERS, RangeQuery(NOW - span, NOW), NOW, max_points=1000)

    assert (choice.tier.name, choice.step_s) == (tier, step_s)


def test_a_week_asked_a_moment_ago_still_reads_the_minute_tier() -> None:
    asked_at = NOW - timedelta(seconds=3)  # the browser's clock, and the request's latency

    week = choose_tier(TIERS, RangeQuery(asked_at - timedelta(days=7), asked_at), NOW, 1000)
    older = choose_tier(TIERS, RangeQuery(NOW - timedelta(days=7, hours=1), NOW), NOW, 1000)

    assert week.tier.name == "1m"
    assert older.tier.name == "1h", "beyond the slack the minute tier no longer holds it"


def test_a_range_older_than_raw_skips_raw_even_if_short() -> None:
    start = NOW - timedelta(days=2)

    choice = choose_tier(TIERS, RangeQuery(start, start + timedelta(minutes=10)), NOW, 1000)

    assert choice.tier.name == "1m"


def test_a_forced_tier_and_step_are_honoured() -> None:
    choice = choose_tier(TIERS, RangeQuery(NOW - timedelta(hours=1), NOW, tier="1h"), NOW, 1000)
    assert (choice.tier.name, choice.step_s) == ("1h", 3600)

    stepped = choose_tier(TIERS, RangeQuery(NOW - timedelta(hours=1), NOW, step_s=300), NOW, 1000)
    assert (stepped.tier.name, stepped.step_s) == ("1m", 300)

    finer = choose_tier(
        TIERS, RangeQuery(NOW - timedelta(days=3), NOW, tier="1m", step_s=10), NOW, 10_000
    )
    assert finer.step_s == 60  # never finer than the tier holds


def test_an_empty_or_reversed_range_is_an_error() -> None:
    with pytest.raises(RangeError, match="'to' must be after 'from'"):
        choose_tier(TIERS, RangeQuery(NOW, NOW - timedelta(hours=1)), NOW, 1000)
