"""PromQL's aggregation operators over one step's vector, grouped as 2.42 groups them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from hostpulse.services.promql.gomath import format_fixed, format_value
from hostpulse.services.promql.model import (
    NAME,
    Labels,
    Matrix,
    PromQLError,
    Series,
    drop,
    keep_only,
    with_label,
)
from hostpulse.services.promql.over_time import quantile
from hostpulse.services.promql.series_set import SeriesSet, at_step

AGGREGATIONS = frozenset(
    {"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
     "count_values", "group"}
)  # fmt: skip


def mean(values: list[float]) -> float:
    """avg as 2.42 computes it: an incremental mean that survives infinities."""
    average = values[0]
    for count, value in enumerate(values[1:], start=2):
        if math.isinf(average):
            if math.isinf(value) and (average > 0) == (value > 0):
                continue
            if not math.isinf(value) and not math.isnan(value):
                continue
        average += value / count - average / count
    return average


def extreme(values: list[float], larger: bool) -> float:
    best = values[0]
    for value in values[1:]:
        if (value > best if larger else value < best) or math.isnan(best):
            best = value
    return best


def spread(values: list[float]) -> float:
    """stdvar as the aggregation computes it in 2.42: Welford's from the first value (unlike
    stdvar_over_time, which starts from zero: a lone infinity is 0 here, NaN there)."""
    average, aux = values[0], 0.0
    for count, value in enumerate(values[1:], start=2):
        delta = value - average
        average += delta / count
        aux += delta * (value - average)
    return aux / len(values)


def total(values: list[float]) -> float:
    answer = values[0]
    for value in values[1:]:
        answer += value
    return answer


SIMPLE: dict[str, Callable[[list[float], float | None], float]] = {
    "sum": lambda values, _: total(values),
    "avg": lambda values, _: mean(values),
    "min": lambda values, _: extreme(values, larger=False),
    "max": lambda values, _: extreme(values, larger=True),
    "count": lambda values, _: float(len(values)),
    "group": lambda values, _: 1.0,
    "stdvar": lambda values, _: spread(values),
    "stddev": lambda values, _: math.sqrt(spread(values)),
    "quantile": lambda values, q: quantile(q if q is not None else math.nan, values),
}


# Aggregations whose answer for a lone value is that value.
ALONE_AS_IT_IS = frozenset({"sum", "avg", "min", "max"})


@dataclass(frozen=True)
class Grouping:
    labels: tuple[str, ...]
    without: bool

    def of(self, labels: Labels) -> Labels:
        if self.without:
            return drop(labels, [*self.labels, NAME])
        return keep_only(labels, self.labels)


Pair = tuple[Series, float]


def ranked(members: list[Pair], k: int, largest: bool) -> list[Pair]:
    """topk/bottomk as 2.42 picks them: a heap of k kept in Go's container/heap order, whose
    top is replaced only by a strictly better value (or when it is NaN). Among equal values,
    which ones stay depends on that heap's order, so it is followed step for step."""
    if k < 1 or not members:
        return []

    def less(a: float, b: float) -> bool:  # the heap's order: its top is the one to evict
        return math.isnan(a) or (a < b if largest else a > b)

    heap = [members[0]]
    for pair in members[1:]:
        top = heap[0][1]
        if len(heap) < k or math.isnan(top) or (top < pair[1] if largest else top > pair[1]):
            if len(heap) == k:
                if k == 1:
                    heap[0] = pair
                    continue
                _pop(heap, less)
            _push(heap, pair, less)
    return sorted(
        heap, key=lambda p: (not math.isnan(p[1]), p[1] if largest else -p[1]), reverse=True
    )


def _push(heap: list[Pair], pair: Pair, less: Callable[[float, float], bool]) -> None:
    heap.append(pair)
    j = len(heap) - 1
    while j > 0:
        i = (j - 1) // 2
        if not less(heap[j][1], heap[i][1]):
            break
        heap[i], heap[j] = heap[j], heap[i]
        j = i


def _pop(heap: list[Pair], less: Callable[[float, float], bool]) -> None:
    n = len(heap) - 1
    heap[0], heap[n] = heap[n], heap[0]
    i = 0
    while (left := 2 * i + 1) < n:
        j = left
        if left + 1 < n and less(heap[left + 1][1], heap[left][1]):
            j = left + 1
        if not less(heap[j][1], heap[i][1]):
            break
        heap[i], heap[j] = heap[j], heap[i]
        i = j
    heap.pop()


def aggregate(
    op: str, matrix: Matrix, grouping: Grouping, params: list[float] | str | None, steps: int
) -> Matrix:
    out = SeriesSet(steps)
    groups: dict[Labels, list[Series]] = {}
    for series in matrix:
        groups.setdefault(grouping.of(series.labels), []).append(series)
    if op in SIMPLE:
        # A group's values step by step, in the input's order (a sum adds them in that order).
        for labels, members in groups.items():
            if len(members) == 1 and op in ALONE_AS_IT_IS:  # avg by (host) of one series a host
                out.add_series(labels, list(members[0].values))
                continue
            combine = SIMPLE[op]
            values: list[float | None] = []
            for step, column in enumerate(zip(*(s.values for s in members), strict=True)):
                present = [v for v in column if v is not None]
                param = params[step] if isinstance(params, list) else None
                values.append(combine(present, param) if present else None)
            out.add_series(labels, values)
        return out.matrix()
    for step in range(steps):
        vector = at_step(matrix, step)
        if op == "count_values":
            count_values(out, vector, str(params), grouping, step)
            continue
        k = kth(params[step] if isinstance(params, list) else None)
        for members in groups.values():
            present = [(s, v) for s in members if (v := s.values[step]) is not None]
            for series, value in ranked(present, k, op == "topk"):
                out.add(series.labels, step, value)
    return out.matrix()


def kth(param: float | None) -> int:
    if param is None or math.isnan(param):
        return 0
    if abs(param) >= 2**63:
        raise PromQLError(f"Scalar value {format_value(param)} overflows int64", "execution")
    return max(0, int(param))


def count_values(
    out: SeriesSet,
    vector: list[tuple[Series, float]],
    value_label: str,
    grouping: Grouping,
    step: int,
) -> None:
    counts: dict[Labels, int] = {}
    if not grouping.without:
        grouping = Grouping((*grouping.labels, value_label), without=False)
    for series, value in vector:
        key = grouping.of(with_label(series.labels, value_label, format_fixed(value)))
        counts[key] = counts.get(key, 0) + 1
    for labels, count in counts.items():
        out.add(labels, step, float(count))
