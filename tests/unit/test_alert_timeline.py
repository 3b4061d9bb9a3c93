"""Alert semantics, table-driven: each case is a CPU series (seconds, percent) against > 90,
followed to its last point or, as the schedule follows it, to a later moment."""

from __future__ import annotations

import random

import pytest

from hostpulse.services.alerts.timeline import Point, evaluate

LOOKBACK_MS = 300_000


def points(series: list[tuple[int, float]]) -> list[Point]:
    return [Point(t * 1000, v, v > 90) for t, v in series]


def episodes(
    series: list[tuple[int, float]], for_s: int, keep_s: int = 0, until_s: int | None = None
) -> list[tuple[int, ...]]:
    until_ms = None if until_s is None else until_s * 1000
    timeline = evaluate(points(series), for_s * 1000, keep_s * 1000, LOOKBACK_MS, until_ms)
    return [
        (e.started_ms // 1000, e.fired_ms // 1000)
        + (() if e.resolved_ms is None else (e.resolved_ms // 1000,))
        for e in timeline.episodes
    ]


CASES = {
    # name: (series, for_s, keep_firing_for_s, until_s, episodes (start, fired[, resolved]))
    "a spike shorter than for never fires": (
        [(0, 50), (5, 95), (10, 96), (15, 40), (20, 50)], 10, 0, None, []),
    "firing after exactly for": ([(0, 95), (5, 95), (10, 95)], 10, 0, None, [(0, 10)]),
    "one sample short of for stays pending, to its last point": (
        [(0, 95), (5, 95), (9, 95)], 10, 0, None, []),
    "followed on, the run fires on its last value at for": (
        [(0, 95), (5, 95), (9, 95)], 10, 0, 20, [(0, 10)]),
    "for zero fires on the first breach": ([(0, 50), (5, 95)], 0, 0, None, [(5, 5)]),
    "resolves on recovery": ([(0, 95), (5, 95), (10, 95), (15, 20)], 10, 0, None, [(0, 10, 15)]),
    "keep_firing_for absorbs a dip": (
        [(0, 95), (5, 95), (10, 95), (15, 20), (20, 95), (25, 95)], 10, 30, None, [(0, 10)]),
    "keep_firing_for counts from the first value that no longer breaches": (
        [(0, 95), (5, 95), (10, 95), (40, 20), (50, 20), (75, 20)], 10, 30, None,
        [(0, 10, 70)]),
    "without keep_firing_for a dip resolves and fires again": (
        [(0, 95), (5, 95), (10, 95), (15, 20), (20, 95), (25, 95), (30, 95)], 10, 0, None,
        [(0, 10, 15), (20, 30)]),
    "a gap shorter than the lookback keeps the run: it fires in the gap": (
        [(0, 95), (5, 95), (100, 95), (105, 95)], 10, 0, None, [(0, 10)]),
    "a gap longer than the lookback breaks a pending run": (
        [(0, 95), (5, 95), (400, 95), (405, 95)], 600, 0, None, []),
    "a breach that ends in silence fires on its last value, then resolves when stale": (
        [(0, 95), (5, 95)], 60, 0, 1000, [(0, 60, 305)]),
    "a stale series resolves what fires": ([(0, 95), (10, 95)], 10, 0, 1000, [(0, 10, 310)]),
    "a stale series keeps firing for keep_firing_for": (
        [(0, 95), (10, 95)], 10, 120, 1000, [(0, 10, 430)]),
    "a stale series ends a run shorter than for": ([(0, 95), (5, 95)], 600, 0, 1000, []),
    "equal to the threshold is not above it": ([(0, 90), (5, 90), (10, 90)], 10, 0, None, []),
}  # fmt: skip


@pytest.mark.parametrize(
    ("series", "for_s", "keep_s", "until_s", "expected"), CASES.values(), ids=CASES
)
def test_semantics(
    series: list[tuple[int, float]],
    for_s: int,
    keep_s: int,
    until_s: int | None,
    expected: list[tuple[int, ...]],
) -> None:
    assert episodes(series, for_s, keep_s, until_s) == expected


def test_duplicate_and_reordered_points_change_nothing() -> None:
    series = [(t, 95.0 if 20 <= t < 60 else 30.0) for t in range(0, 120, 5)]
    once = evaluate(points(series), 10_000, 0, LOOKBACK_MS)
    shuffled = points(series) * 3
    random.Random(7).shuffle(shuffled)

    again = evaluate(shuffled, 10_000, 0, LOOKBACK_MS)

    assert again == once
    assert [(e.started_ms, e.fired_ms, e.resolved_ms) for e in once.episodes] == [
        (20_000, 30_000, 60_000)
    ]


def test_the_state_at_the_newest_point() -> None:
    pending = evaluate(points([(0, 30), (5, 95)]), 10_000, 0, LOOKBACK_MS)
    firing = evaluate(points([(0, 95), (10, 95)]), 10_000, 0, LOOKBACK_MS)

    assert (pending.state, pending.pending_since_ms) == ("pending", 5000)
    assert (firing.state, firing.last_value) == ("firing", 95)
