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


@dataclass(frozen=True)
class Grouping:
    labels: tuple[str, ...]
    without: bool

    def of(self, labels: Labels) -> Labels:
        if self.without:
            return drop(labels, [*self.labels, NAME])
        return keep_only(labels, self.labels)


def ranked(
    members: list[tuple[Series, float]], k: int, largest: bool
) -> list[tuple[Series, float]]:
    """topk/bottomk: NaN ranks below every number either way, as Prometheus' heaps order it."""

    def key(pair: tuple[Series, float]) -> tuple[bool, float]:
        value = pair[1]
        if math.isnan(value):
            return (False, 0.0)
        return (True, value if largest else -value)

    return sorted(members, key=key, reverse=True)[:k]


def aggregate(
    op: str, matrix: Matrix, grouping: Grouping, params: list[float] | str | None, steps: int
) -> Matrix:
    out = SeriesSet(steps)
    keys = {id(s): grouping.of(s.labels) for s in matrix}
    for step in range(steps):
        vector = at_step(matrix, step)
        param = params[step] if isinstance(params, list) else None
        if op == "count_values":
            count_values(out, vector, str(params), grouping, step)
            continue
        groups: dict[Labels, list[tuple[Series, float]]] = {}
        for series, value in vector:
            groups.setdefault(keys[id(series)], []).append((series, value))
        for labels, members in groups.items():
            if op in ("topk", "bottomk"):
                k = kth(param)
                for series, value in ranked(members, k, op == "topk"):
                    out.add(series.labels, step, value)
                continue
            out.add(labels, step, SIMPLE[op]([v for _, v in members], param))
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
