"""Alert semantics, table-driven: each case is a CPU series (seconds, percent) against > 90."""

from __future__ import annotations

import random

import pytest

from hostpulse.services.alerts.timeline import Point, evaluate

GAP_MS = 60_000


def points(series: list[tuple[int, float]]) -> list[Point]:
    return [Point(t * 1000, v, v > 90) for t, v in series]


def episodes(series: list[tuple[int, float]], for_s: int, keep_s: int = 0) -> list[tuple[int, ...]]:
    timeline = evaluate(points(series), for_s * 1000, keep_s * 1000, GAP_MS)
    return [
        (e.started_ms // 1000, e.fired_ms // 1000)
        + (() if e.resolved_ms is None else (e.resolved_ms // 1000,))
        for e in timeline.episodes
    ]


CASES = {
    # name: (series, for_s, keep_firing_for_s, expected episodes (start, fired[, resolved]))
    "a spike shorter than for never fires": (
        [(0, 50), (5, 95), (10, 96), (15, 40), (20, 50)], 10, 0, []),
    "firing after exactly for": ([(0, 95), (5, 95), (10, 95)], 10, 0, [(0, 10)]),
    "one sample short of for stays pending": ([(0, 95), (5, 95), (9, 95)], 10, 0, []),
    "for zero fires on the first breach": ([(0, 50), (5, 95)], 0, 0, [(5, 5)]),
    "resolves on recovery": ([(0, 95), (5, 95), (10, 95), (15, 20)], 10, 0, [(0, 10, 15)]),
    "keep_firing_for absorbs a dip": (
        [(0, 95), (5, 95), (10, 95), (15, 20), (20, 95), (25, 95)], 10, 30, [(0, 10)]),
    "keep_firing_for ends after a long enough recovery": (
        [(0, 95), (5, 95), (10, 95), (15, 20), (30, 20), (45, 20)], 10, 30, [(0, 10, 45)]),
    "without keep_firing_for a dip resolves and fires again": (
        [(0, 95), (5, 95), (10, 95), (15, 20), (20, 95), (25, 95), (30, 95)], 10, 0,
        [(0, 10, 15), (20, 30)]),
    "a data gap breaks a pending run": ([(0, 95), (5, 95), (100, 95), (105, 95)], 10, 0, []),
    "equal to the threshold is not above it": ([(0, 90), (5, 90), (10, 90)], 10, 0, []),
}  # fmt: skip


@pytest.mark.parametrize(("series", "for_s", "keep_s", "expected"), CASES.values(), ids=CASES)
def test_semantics(
    series: list[tuple[int, float]], for_s: int, keep_s: int, expected: list[tuple[int, ...]]
) -> None:
    assert episodes(series, for_s, keep_s) == expected


def test_duplicate_and_reordered_points_change_nothing() -> None:
    series = [(t, 95.0 if 20 <= t < 60 else 30.0) for t in range(0, 120, 5)]
    once = evaluate(points(series), 10_000, 0, GAP_MS)
    shuffled = points(series) * 3
    random.Random(7).shuffle(shuffled)

    again = evaluate(shuffled, 10_000, 0, GAP_MS)

    assert again == once
    assert [(e.started_ms, e.fired_ms, e.resolved_ms) for e in once.episodes] == [
        (20_000, 30_000, 60_000)
    ]


def test_the_state_at_the_newest_point() -> None:
    pending = evaluate(points([(0, 30), (5, 95)]), 10_000, 0, GAP_MS)
    firing = evaluate(points([(0, 95), (10, 95)]), 10_000, 0, GAP_MS)

    assert (pending.state, pending.pending_since_ms) == ("pending", 5000)
    assert (firing.state, firing.last_value) == ("firing", 95)
