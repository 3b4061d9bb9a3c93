"""PromQL's functions whose arguments are instant vectors, scalars and strings, evaluated over
a query's steps (the functions of range vectors are the evaluator's, with ``over_time``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from hostpulse.services.promql import calls
from hostpulse.services.promql.model import (
    Labels,
    Matrix,
    Scalar,
    Series,
    Steps,
    String,
    Value,
    without_name,
)
from hostpulse.services.promql.parse import Node, matchers_of, unwrap
from hostpulse.services.promql.series_set import SeriesSet, at_step

if TYPE_CHECKING:
    from hostpulse.services.promql.evaluate import Evaluator


class InstantCalls:
    """The functions whose arguments are instant vectors, scalars and strings."""

    def __init__(self, evaluator: Evaluator, steps: Steps) -> None:
        self.ev = evaluator
        self.steps = steps
        self.n = len(steps)

    def call(self, name: str, args: list[Node]) -> Value:
        if name in calls.MATH:
            function = calls.MATH[name]
            return calls.per_value(self.vector(args[0]), self.n, lambda v, _: function(v), False)
        if name in calls.DATES:
            return self.date(calls.DATES[name], args)
        handler = getattr(self, f"call_{name}")
        return cast(Value, handler(args))

    def vector(self, node: Node) -> Matrix:
        return self.ev.matrix(node, self.steps)

    def scalar(self, node: Node) -> list[float]:
        return self.ev.scalar(node, self.steps)

    def string(self, node: Node) -> str:
        return cast(String, self.ev.eval(node, self.steps)).value

    def date(self, function: Callable[..., float], args: list[Node]) -> Value:
        if not args:
            return [Series((), [function(calls.utc(t / 1000)) for t in self.steps])]

        def of(value: float, _: int) -> float:
            return function(calls.utc(value)) if math.isfinite(value) else math.nan

        return calls.per_value(self.vector(args[0]), self.n, of, keep_name=False)

    def call_time(self, _: list[Node]) -> Scalar:
        return Scalar([t / 1000 for t in self.steps])

    def call_pi(self, _: list[Node]) -> Scalar:
        return Scalar([math.pi] * self.n)

    def call_vector(self, args: list[Node]) -> Matrix:
        return [Series((), list[float | None](self.scalar(args[0])))]

    def call_scalar(self, args: list[Node]) -> Scalar:
        matrix = self.vector(args[0])
        values = []
        for step in range(self.n):
            present = at_step(matrix, step)
            values.append(present[0][1] if len(present) == 1 else math.nan)
        return Scalar(values)

    def call_clamp(self, args: list[Node]) -> Matrix:
        low, high = self.scalar(args[1]), self.scalar(args[2])
        return calls.per_value(
            self.vector(args[0]), self.n, lambda v, i: calls.clamp(v, low[i], high[i]), False
        )

    def call_clamp_min(self, args: list[Node]) -> Matrix:
        low = self.scalar(args[1])
        return calls.per_value(
            self.vector(args[0]), self.n, lambda v, i: calls.go_max(low[i], v), False
        )

    def call_clamp_max(self, args: list[Node]) -> Matrix:
        high = self.scalar(args[1])
        return calls.per_value(
            self.vector(args[0]), self.n, lambda v, i: calls.go_min(high[i], v), False
        )

    def call_round(self, args: list[Node]) -> Matrix:
        nearest = self.scalar(args[1]) if len(args) > 1 else [1.0] * self.n
        return calls.per_value(
            self.vector(args[0]), self.n, lambda v, i: calls.rounded(v, nearest[i]), False
        )

    def call_timestamp(self, args: list[Node]) -> Matrix:
        matrix = self.vector(args[0])
        out = SeriesSet(self.n)
        for series in matrix:
            # a selector's own samples' times; a computed value's time is its step's
            stamps = series.times or list[int | None](self.steps)
            values: list[float | None] = [
                None if v is None else (stamps[i] or self.steps[i]) / 1000
                for i, v in enumerate(series.values)
            ]
            out.add_series(without_name(series.labels), values)
        return out.matrix()

    def call_absent(self, args: list[Node]) -> Matrix:
        matrix = self.vector(args[0])
        argument = unwrap(args[0])
        labels: Labels = ()
        if type(argument).__name__ == "VectorSelector":
            labels = calls.absent_labels([(m.name, m.op, m.value) for m in matchers_of(argument)])
        values: list[float | None] = [
            None if at_step(matrix, step) else 1.0 for step in range(self.n)
        ]
        return [Series(labels, values)] if any(v is not None for v in values) else []

    def call_label_replace(self, args: list[Node]) -> Matrix:
        strings = [self.string(a) for a in args[1:5]]
        return calls.label_replace(self.vector(args[0]), self.n, strings)

    def call_label_join(self, args: list[Node]) -> Matrix:
        strings = [self.string(a) for a in args[1:]]
        return calls.label_join(self.vector(args[0]), self.n, strings[0], strings[1], strings[2:])

    def call_sort(self, args: list[Node], descending: bool = False) -> Matrix:
        matrix = self.vector(args[0])

        def key(series: Series) -> tuple[bool, float]:
            value = series.values[0]
            if value is None or math.isnan(value):
                return (not descending, 0.0)
            return (descending, value)

        return sorted(matrix, key=key, reverse=descending)

    def call_sort_desc(self, args: list[Node]) -> Matrix:
        return self.call_sort(args, descending=True)
