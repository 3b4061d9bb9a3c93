"""The functions of a range vector: one number from the points a step's window holds, as
Prometheus 2.42 computes it (rate's extrapolation, Kahan sums, Welford's variance).

Where the points are rolled buckets, the functions whose answer the buckets' statistics give
exactly (count, sum, avg, min, max over time; rate, increase and delta from each bucket's
first sample and a counter's resets) take them; the rest read each bucket's last value at its
time, as a series sampled at the tier's resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise
from typing import NamedTuple

from hostpulse.services.promql.gomath import NAN, div, kahan_add
from hostpulse.services.promql.model import BucketStats, Window

Param = float | None
RangeFunction = Callable[[Window, Param], float | None]


class Change(NamedTuple):
    """How much a window's samples changed (a counter's resets added back), and the first and
    last of them that rate's extrapolation measures from."""

    result: float
    first_ms: int
    first: float
    last_ms: int
    samples: int


def sampled_change(window: Window, counter: bool) -> Change | None:
    times, values = window.times, window.values
    if len(values) < 2:
        return None
    result = values[-1] - values[0]
    if counter:
        previous = values[0]
        for value in values[1:]:
            if value < previous:
                result += previous
            previous = value
    return Change(result, times[0], values[0], times[-1], len(values))


def bucket_change(window: Window, counter: bool) -> Change | None:
    """The same from rolled buckets, which kept their first samples and their resets: a
    counter also fell wherever a bucket's first value is below the last of the bucket
    before. None where the points are not buckets, or a bucket did not keep them."""
    stats = window.stats
    if stats is None:
        return None
    head = stats[0]
    samples = sum(s.samples for s in stats)
    if head.first is None or head.first_ms is None or samples < 2:
        return None
    result = window.values[-1] - head.first
    previous = None
    for bucket, last in zip(stats, window.values, strict=True):
        fell = bucket.reset_sum if counter else 0.0
        if bucket.first is None or fell is None:
            return None
        if counter and previous is not None and bucket.first < previous:
            result += previous
        result += fell
        previous = last
    return Change(result, head.first_ms, head.first, window.times[-1], samples)


def extrapolated(window: Window, counter: bool, per_second: bool) -> float | None:
    """Prometheus' rate, increase and delta: the change extrapolated to the window's edges.
    Over rolled buckets that kept what it needs, exactly as over their samples; elsewhere
    from the buckets' last values, as a series sampled at the tier's resolution."""
    change = bucket_change(window, counter) or sampled_change(window, counter)
    if change is None:
        return None
    result = change.result
    to_start = (change.first_ms - window.start_ms) / 1000
    to_end = (window.end_ms - change.last_ms) / 1000
    sampled = (change.last_ms - change.first_ms) / 1000
    average = sampled / (change.samples - 1)
    if counter and result > 0 and change.first >= 0 and not window.cut_start:
        to_zero = sampled * (change.first / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    # Where a bucket reaches over an edge, the series goes on past it: extrapolated all the
    # way, as Prometheus does for samples close to the edge.
    interval += to_start if to_start < threshold or window.cut_start else average / 2
    interval += to_end if to_end < threshold or window.cut_end else average / 2
    factor = interval / sampled
    if per_second:
        factor /= (window.end_ms - window.start_ms) / 1000
    return result * factor


def instant_change(window: Window, per_second: bool) -> float | None:
    if len(window.values) < 2:
        return None
    last, previous = window.values[-1], window.values[-2]
    elapsed = window.times[-1] - window.times[-2]
    if elapsed == 0:
        return None
    result = last if per_second and last < previous else last - previous
    return result / (elapsed / 1000) if per_second else result


def regression(window: Window, intercept_ms: int) -> tuple[float, float]:
    values = window.values
    first = values[0]
    constant = all(v == first for v in values)
    if constant:
        return (NAN, NAN) if math.isinf(first) else (0.0, first)
    n = 0.0
    sx = cx = sy = cy = sxy = cxy = sx2 = cx2 = 0.0
    for t, v in zip(window.times, values, strict=True):
        n += 1
        x = (t - intercept_ms) / 1000
        sx, cx = kahan_add(x, sx, cx)
        sy, cy = kahan_add(v, sy, cy)
        sxy, cxy = kahan_add(x * v, sxy, cxy)
        sx2, cx2 = kahan_add(x * x, sx2, cx2)
    sx, sy, sxy, sx2 = sx + cx, sy + cy, sxy + cxy, sx2 + cx2
    covariance = sxy - sx * sy / n
    variance = sx2 - sx * sx / n
    slope = div(covariance, variance)
    return slope, sy / n - slope * sx / n


def deriv(window: Window, _: Param) -> float | None:
    if len(window.values) < 2:
        return None
    return regression(window, window.times[0])[0]


def predict_linear(window: Window, seconds: Param) -> float | None:
    if len(window.values) < 2:
        return None
    slope, intercept = regression(window, window.end_ms)
    return slope * (seconds or 0.0) + intercept


def resets(window: Window, _: Param) -> float:
    values = window.values
    return float(sum(1 for a, b in pairwise(values) if b < a))


def changes(window: Window, _: Param) -> float:
    values = window.values
    return float(
        sum(1 for a, b in pairwise(values) if b != a and not (math.isnan(a) and math.isnan(b)))
    )


def avg_over_time(window: Window, _: Param) -> float:
    if window.stats is not None:
        return div(sum(s.sum for s in window.stats), sum(s.samples for s in window.stats))
    mean = compensation = count = 0.0
    for value in window.values:
        count += 1
        if math.isinf(mean):
            if math.isinf(value) and (mean > 0) == (value > 0):
                continue
            if not math.isinf(value) and not math.isnan(value):
                continue
        mean, compensation = kahan_add(value / count - mean / count, mean, compensation)
    return mean if math.isinf(mean) else mean + compensation


def sum_over_time(window: Window, _: Param) -> float:
    values = window.values if window.stats is None else [s.sum for s in window.stats]
    total = compensation = 0.0
    for value in values:
        total, compensation = kahan_add(value, total, compensation)
    return total if math.isinf(total) else total + compensation


def count_over_time(window: Window, _: Param) -> float:
    if window.stats is not None:
        return float(sum(s.samples for s in window.stats))
    return float(len(window.values))


def extreme(
    window: Window, kept: Callable[[BucketStats], float], better: Callable[[float, float], bool]
) -> float:
    values = window.values if window.stats is None else [kept(s) for s in window.stats]
    best = values[0]
    for value in values:
        if better(value, best) or math.isnan(best):
            best = value
    return best


def max_over_time(window: Window, _: Param) -> float:
    return extreme(window, lambda s: s.max, lambda a, b: a > b)


def min_over_time(window: Window, _: Param) -> float:
    return extreme(window, lambda s: s.min, lambda a, b: a < b)


def variance(values: list[float]) -> float:
    count = mean = mean_c = aux = aux_c = 0.0
    for value in values:
        count += 1
        delta = value - (mean + mean_c)
        mean, mean_c = kahan_add(delta / count, mean, mean_c)
        aux, aux_c = kahan_add(delta * (value - (mean + mean_c)), aux, aux_c)
    return (aux + aux_c) / count


def stdvar_over_time(window: Window, _: Param) -> float:
    return variance(window.values)


def stddev_over_time(window: Window, _: Param) -> float:
    return math.sqrt(variance(window.values))


def quantile(q: float, values: list[float]) -> float:
    """Prometheus' quantile: linear interpolation between the closest ranks."""
    if not values:
        return NAN
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda v: (not math.isnan(v), v))
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def quantile_over_time(window: Window, q: Param) -> float:
    return quantile(q if q is not None else NAN, window.values)


RANGE_FUNCTIONS: dict[str, RangeFunction] = {
    "rate": lambda w, _: extrapolated(w, counter=True, per_second=True),
    "increase": lambda w, _: extrapolated(w, counter=True, per_second=False),
    "delta": lambda w, _: extrapolated(w, counter=False, per_second=False),
    "irate": lambda w, _: instant_change(w, per_second=True),
    "idelta": lambda w, _: instant_change(w, per_second=False),
    "deriv": deriv,
    "predict_linear": predict_linear,
    "resets": resets,
    "changes": changes,
    "avg_over_time": avg_over_time,
    "sum_over_time": sum_over_time,
    "count_over_time": count_over_time,
    "max_over_time": max_over_time,
    "min_over_time": min_over_time,
    "stddev_over_time": stddev_over_time,
    "stdvar_over_time": stdvar_over_time,
    "quantile_over_time": quantile_over_time,
    "last_over_time": lambda w, _: w.values[-1],
    "present_over_time": lambda w, _: 1.0,
}
# Where the scalar argument is: first (quantile_over_time) or second (predict_linear).
PARAM_FIRST = frozenset({"quantile_over_time"})
