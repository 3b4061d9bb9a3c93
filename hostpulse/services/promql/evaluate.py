"""Evaluating a PromQL tree over a list of steps, as Prometheus 2.42's engine does: every node
answers for all steps at once (an instant query is one step), selectors read their series
once, and a subquery evaluates its expression over steps of its own."""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from hostpulse.services.promql import calls
from hostpulse.services.promql.aggregations import Grouping, aggregate
from hostpulse.services.promql.instant import InstantCalls
from hostpulse.services.promql.model import (
    Labels,
    Matrix,
    PromQLError,
    RangeVector,
    Scalar,
    Series,
    Steps,
    StoredSeries,
    String,
    Value,
    Window,
    execution_error,
    without_name,
)
from hostpulse.services.promql.operators import (
    Operator,
    matching_of,
    scalars,
    vector_scalar,
    vectors,
)
from hostpulse.services.promql.over_time import PARAM_FIRST, RANGE_FUNCTIONS
from hostpulse.services.promql.parse import Node, at_of, matchers_of, milliseconds, unwrap
from hostpulse.services.promql.ports import Matcher
from hostpulse.services.promql.series_set import SAME_LABELS

Loader = Callable[[list[Matcher], int, int], list[StoredSeries]]
TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"


@dataclass
class Limits:
    lookback_ms: int = 300_000
    subquery_step_ms: int = 60_000  # Prometheus' default evaluation interval
    max_samples: int = 5_000_000
    deadline: float = math.inf  # time.monotonic() past which the query is abandoned


class Evaluator:
    def __init__(self, load: Loader, start_ms: int, end_ms: int, limits: Limits) -> None:
        self.load = load
        self.start_ms, self.end_ms = start_ms, end_ms
        self.limits = limits
        self.samples = 0

    # -- bookkeeping ------------------------------------------------------------------------
    def tick(self, samples: int = 0) -> None:
        self.samples += samples
        if self.samples > self.limits.max_samples:
            raise execution_error(TOO_MANY_SAMPLES)
        if time.monotonic() > self.limits.deadline:
            raise PromQLError("query timed out in expression evaluation", "timeout")

    def eval(self, node: Node, steps: Steps) -> Value:
        kind = type(node).__name__
        handler = getattr(self, f"eval_{kind}", None)
        if handler is None:
            raise PromQLError(f"{kind} is not supported by hostpulse")
        return cast(Value, handler(node, steps))

    def matrix(self, node: Node, steps: Steps) -> Matrix:
        value = self.eval(node, steps)
        if isinstance(value, list):
            return value
        raise PromQLError(f"expected an instant vector, got {type(value).__name__}")

    def scalar(self, node: Node, steps: Steps) -> list[float]:
        value = self.eval(node, steps)
        if isinstance(value, Scalar):
            return value.values
        raise PromQLError("expected a scalar")

    # -- leaves -----------------------------------------------------------------------------
    def eval_NumberLiteral(self, node: Node, steps: Steps) -> Scalar:  # noqa: N802
        return Scalar([float(node.val)] * len(steps))

    def eval_StringLiteral(self, node: Node, steps: Steps) -> String:  # noqa: N802
        return String(node.val)

    def eval_ParenExpr(self, node: Node, steps: Steps) -> Value:  # noqa: N802
        return self.eval(node.expr, steps)

    def eval_UnaryExpr(self, node: Node, steps: Steps) -> Value:  # noqa: N802
        value = self.eval(node.expr, steps)
        if isinstance(value, Scalar):
            return Scalar([-v for v in value.values])
        return calls.per_value(cast(Matrix, value), len(steps), lambda v, _: -v, keep_name=False)

    def reference_times(self, node: Node, steps: Steps) -> list[int]:
        offset = milliseconds(node.offset)
        at = at_of(node, self.start_ms, self.end_ms)
        return [(at if at is not None else step) - offset for step in steps]

    def eval_VectorSelector(self, node: Node, steps: Steps) -> Matrix:  # noqa: N802
        times = self.reference_times(node, steps)
        lookback = self.limits.lookback_ms
        stored = self.load(matchers_of(node), min(times) - lookback, max(times))
        out: Matrix = []
        for series in sorted(stored, key=lambda s: s.labels):
            ends, starts = series.ends, series.starts
            sample_times, sample_values = series.times, series.values
            last = len(ends) - 1
            # Per step, the newest point that ended by then, if it is inside the lookback; or,
            # between a rolled tier's bucket edges, the bucket before the one holding the step
            # (which has samples, but maybe none before the step): a series sampled more often
            # than its buckets stays present between them, as on the raw samples.
            chosen = [
                i
                if (i := bisect_right(ends, reference) - 1) >= 0
                and (
                    sample_times[i] >= reference - lookback
                    or (i < last and starts[i + 1] < reference)
                )
                else -1
                for reference in times
            ]
            found = len(chosen) - chosen.count(-1)
            self.tick(found)
            if found:
                values = [sample_values[i] if i >= 0 else None for i in chosen]
                stamps = [sample_times[i] if i >= 0 else None for i in chosen]
                out.append(Series(series.labels, values, stamps))
        return out

    def eval_MatrixSelector(self, node: Node, steps: Steps) -> RangeVector:  # noqa: N802
        selector = node.vector_selector
        range_ms = milliseconds(node.range)
        times = self.reference_times(selector, steps)
        stored = self.load(matchers_of(selector), min(times) - range_ms, max(times))
        self.tick(sum(len(s.times) for s in stored))
        return RangeVector(
            sorted(stored, key=lambda s: s.labels),
            range_ms,
            milliseconds(selector.offset),
            at_of(selector, self.start_ms, self.end_ms),
        )

    def eval_SubqueryExpr(self, node: Node, steps: Steps) -> RangeVector:  # noqa: N802
        range_ms = milliseconds(node.range)
        step_ms = milliseconds(node.step) or self.limits.subquery_step_ms
        ends = self.reference_times(node, steps)
        first = min(ends) - range_ms
        start = step_ms * (first // step_ms)
        if start < first:
            start += step_ms
        if (max(ends) - start) // step_ms + 1 > self.limits.max_samples:
            raise execution_error(TOO_MANY_SAMPLES)  # before the steps' list is built
        inner = list(range(start, max(ends) + 1, step_ms))
        value = self.eval(node.expr, inner) if inner else []
        if isinstance(value, Scalar):
            value = [Series((), list(value.values))]
        if not isinstance(value, list):
            raise PromQLError("subquery is only allowed on instant vector")
        stored = []
        for series in value:
            kept = [(t, v) for t, v in zip(inner, series.values, strict=True) if v is not None]
            stored.append(StoredSeries(series.labels, [t for t, _ in kept], [v for _, v in kept]))
        return RangeVector(
            stored, range_ms, milliseconds(node.offset), at_of(node, self.start_ms, self.end_ms)
        )

    # -- functions --------------------------------------------------------------------------
    def eval_Call(self, node: Node, steps: Steps) -> Value:  # noqa: N802
        name = node.func.name
        args = list(node.args)
        if name in RANGE_FUNCTIONS or name == "absent_over_time":
            return self.range_function(name, args, steps)
        return InstantCalls(self, steps).call(name, args)

    def range_function(self, name: str, args: list[Node], steps: Steps) -> Matrix:
        param: list[float] | None = None
        if len(args) == 2:
            scalar_arg, vector_arg = (
                (args[0], args[1]) if name in PARAM_FIRST else (args[1], args[0])
            )
            param = self.scalar(scalar_arg, steps)
        else:
            vector_arg = args[0]
        ranged = self.eval(vector_arg, steps)
        if not isinstance(ranged, RangeVector):
            raise PromQLError(f"expected a range vector in call to function {name}()")
        if name == "absent_over_time":
            return self.absent_over_time(ranged, unwrap(vector_arg), steps)
        function = RANGE_FUNCTIONS[name]
        out: Matrix = []
        seen: set[Labels] = set()
        for series in ranged.series:
            values: list[float | None] = []
            for i, step in enumerate(steps):
                window = self.window(ranged, series, step)
                values.append(
                    None
                    if window is None
                    else function(window, None if param is None else param[i])
                )
            self.tick()
            if any(v is not None for v in values):
                labels = series.labels if name == "last_over_time" else without_name(series.labels)
                if labels in seen:
                    raise execution_error(SAME_LABELS)
                seen.add(labels)
                out.append(Series(labels, values))
        return out

    def window(self, ranged: RangeVector, series: StoredSeries, step: int) -> Window | None:
        low, high = ranged.bounds(step)
        first = bisect_left(series.starts, low)
        last = bisect_right(series.ends, high)
        if last <= first:
            return None
        if series.stats is None:
            return Window(series.times[first:last], series.values[first:last], None, low, high)
        cut_start = first > 0 and series.ends[first - 1] > low
        cut_end = last < len(series.starts) and series.starts[last] < high
        stats = series.stats[first:last]
        return Window(
            series.times[first:last], series.values[first:last], stats, low, high,
            cut_start, cut_end,
        )  # fmt: skip

    def absent_over_time(self, ranged: RangeVector, argument: Node, steps: Steps) -> Matrix:
        labels: Labels = ()
        if type(argument).__name__ == "MatrixSelector":
            matchers = matchers_of(argument.vector_selector)
            labels = calls.absent_labels([(m.name, m.op, m.value) for m in matchers])
        values: list[float | None] = []
        for step in steps:
            present = any(self.window(ranged, s, step) is not None for s in ranged.series)
            values.append(None if present else 1.0)
        return [Series(labels, values)] if any(v is not None for v in values) else []

    # -- operators --------------------------------------------------------------------------
    def eval_AggregateExpr(self, node: Node, steps: Steps) -> Matrix:  # noqa: N802
        op = str(node.op)
        params: list[float] | str | None = None
        if node.param is not None:
            params = (
                cast(String, self.eval(node.param, steps)).value
                if op == "count_values"
                else self.scalar(node.param, steps)
            )
        if op == "count_values":
            calls.checked_label_name(str(params), "label name")
        modifier = node.modifier
        grouping = Grouping(
            tuple(modifier.labels) if modifier is not None else (),
            without=modifier is not None and str(modifier.type).endswith("Without"),
        )
        matrix = self.matrix(node.expr, steps)
        self.tick()
        return aggregate(op, matrix, grouping, params, len(steps))

    def eval_BinaryExpr(self, node: Node, steps: Steps) -> Value:  # noqa: N802
        op = str(node.op)
        modifier = node.modifier
        as_bool = modifier is not None and bool(modifier.return_bool)
        left, right = self.eval(node.lhs, steps), self.eval(node.rhs, steps)
        self.tick()
        operator = Operator(op, as_bool)
        if isinstance(left, Scalar) and isinstance(right, Scalar):
            return Scalar(scalars(op, left.values, right.values))
        if isinstance(right, Scalar):
            return vector_scalar(operator, cast(Matrix, left), right.values, False, len(steps))
        if isinstance(left, Scalar):
            return vector_scalar(operator, cast(Matrix, right), left.values, True, len(steps))
        card, on, names, include = "one-to-one", False, [], []
        if modifier is not None:
            card = {
                "OneToOne": "one-to-one",
                "ManyToOne": "many-to-one",
                "OneToMany": "one-to-many",
            }.get(str(modifier.card).rsplit(".", 1)[-1], "many-to-many")
            if modifier.matching is not None:
                on = str(modifier.matching.type).endswith("Include")
                names = list(modifier.matching.labels)
            include = list(modifier.group_labels or [])
        if op in ("and", "or", "unless"):
            card = "many-to-many"
        matching = matching_of(card, on, names, include)
        return vectors(operator, cast(Matrix, left), cast(Matrix, right), matching, len(steps))
