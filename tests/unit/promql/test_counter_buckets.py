"""rate, increase and delta from rolled buckets, which keep their first sample and a counter's
resets beside the last: on windows of whole buckets, what Prometheus computes from the samples
themselves; on windows that cut buckets, the whole buckets inside extrapolated to the window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostpulse.services.promql.model import BucketStats, Window
from hostpulse.services.promql.over_time import RANGE_FUNCTIONS
from tests.tier_checks import independent_rollup

T0 = 1_796_400_000_000  # on a bucket edge of every width below (a 30-minute one)
CHANGES = ("rate", "increase", "delta")

samples_of_a_counter = st.lists(
    st.tuples(
        st.integers(min_value=1_000, max_value=40_000),  # ms since the sample before
        st.floats(min_value=0, max_value=1e6, allow_nan=False),  # its increase
        st.booleans(),  # the counter reset first (from zero again)
    ),
    min_size=1,
    max_size=200,
)


def counter(steps: list[tuple[int, float, bool]]) -> list[tuple[int, float]]:
    t, value, points = T0 + 7, 0.0, []
    for gap, increase, reset in steps:
        t += gap
        value = (0.0 if reset else value) + increase
        points.append((t, value))
    return points


def rolled(
    points: list[tuple[int, float]], width: int
) -> tuple[list[int], list[float], list[BucketStats]]:
    """The buckets a rollup keeps of these samples, recomputed as the tier checks do."""
    kept = independent_rollup([("h", "custom.m_total", t, v) for t, v in points], width)
    times, values, stats = [], [], []
    for _, (lo, hi, total, count, last, last_ts, first, first_ts, fell) in sorted(kept.items()):
        times.append(last_ts)
        values.append(last)
        stats.append(BucketStats(lo, hi, total, count, first, first_ts, fell))
    return times, values, stats


def edges(points: list[tuple[int, float]], width: int) -> tuple[int, int]:
    first, last = points[0][0], points[-1][0]
    return first - first % width, last - last % width + width


def answer(name: str) -> Callable[[Window], float | None]:
    return lambda window: RANGE_FUNCTIONS[name](window, None)


@given(steps=samples_of_a_counter, width=st.sampled_from([60_000, 300_000, 1_800_000]))
def test_on_whole_buckets_the_change_is_the_samples_own(
    steps: list[tuple[int, float, bool]], width: int
) -> None:
    points = counter(steps)
    start, end = edges(points, width)
    times, values, stats = rolled(points, width)
    raw = Window([t for t, _ in points], [v for _, v in points], None, start, end)
    buckets = Window(times, values, stats, start, end)
    for name in CHANGES:
        want, got = answer(name)(raw), answer(name)(buckets)
        assert (got is None) == (want is None), name
        if want is not None and got is not None:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-6), name


def test_a_bucket_that_does_not_know_its_resets_falls_back_to_the_last_values() -> None:
    points = counter(
        [(15_000, 10.0, False)] * 8 + [(15_000, 1.0, True)] + [(15_000, 10.0, False)] * 7
    )
    start, end = edges(points, 60_000)
    times, values, stats = rolled(points, 60_000)
    unknown = [stats[0], stats[1]._replace(reset_sum=None), *stats[2:]]
    exact = answer("increase")(Window(times, values, stats, start, end))
    from_lasts = answer("increase")(Window(times, values, None, start, end))
    assert answer("increase")(Window(times, values, unknown, start, end)) == from_lasts != exact
    # delta needs no resets: still exact from the first sample.
    assert answer("delta")(Window(times, values, unknown, start, end)) == answer("delta")(
        Window(times, values, stats, start, end)
    )


def test_a_window_that_cuts_buckets_extrapolates_the_whole_ones_inside_to_its_edges() -> None:
    """A counter going up by one a second, in 30-minute buckets, asked for the hour to 20
    minutes past an edge: one whole bucket inside, and the series goes on either side."""
    width = 1_800_000
    points = [(T0 + 7_000 + i * 15_000, 7.0 + i * 15.0) for i in range(4 * 120)]
    times, values, stats = rolled(points, width)
    end = T0 + 2 * width + 1_200_000
    inside = slice(1, 2)  # the bucket from T0 + 30 min to T0 + 60 min
    cut = Window(times[inside], values[inside], stats[inside], end - 3_600_000, end, True, True)
    assert answer("rate")(cut) == pytest.approx(1.0)
    assert answer("increase")(cut) == pytest.approx(3600.0)
    # Without the cut, Prometheus' rule for a series that starts and ends inside its window.
    alone = replace(cut, cut_start=False, cut_end=False)
    rate = answer("rate")(alone)
    assert rate is not None and rate < 0.6


def test_a_window_that_cuts_buckets_does_not_take_a_reset_at_a_bucket_edge_for_the_start() -> None:
    """The same counter restarted (from zero) as the bucket inside began: its first value is
    near zero, which on raw samples says the series began there; here the window reaches
    over the bucket before, whose samples Prometheus counts in, reset and all."""
    width = 1_800_000
    points = [(T0 + 7_000 + i * 15_000, (7.0 + i * 15.0) % 1_800) for i in range(4 * 120)]
    times, values, stats = rolled(points, width)
    end = T0 + 2 * width + 1_200_000
    inside = slice(1, 2)
    cut = Window(times[inside], values[inside], stats[inside], end - 3_600_000, end, True, True)
    assert answer("rate")(cut) == pytest.approx(1.0)
