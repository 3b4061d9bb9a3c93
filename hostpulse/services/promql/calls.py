"""PromQL's functions of instant vectors and scalars (the functions of range vectors are in
``over_time``), as Prometheus 2.42 defines them."""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from hostpulse.services.promql.gomath import safe
from hostpulse.services.promql.model import (
    Labels,
    Matrix,
    PromQLError,
    label,
    labels_of,
    without_name,
)
from hostpulse.services.promql.regex import anchored, expand
from hostpulse.services.promql.series_set import SeriesSet

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def signed_integer(function: Callable[[float], int], value: float) -> float:
    """ceil or floor as Go's: a float, and a zero keeps its sign (ceil(-0.5) is -0)."""
    if not math.isfinite(value):
        return value
    answer = float(function(value))
    return math.copysign(answer, value) if answer == 0 else answer


MATH: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "ceil": lambda v: signed_integer(math.ceil, v),
    "floor": lambda v: signed_integer(math.floor, v),
    "exp": safe(math.exp),
    "ln": safe(math.log),
    "log2": safe(math.log2),
    "log10": safe(math.log10),
    "sqrt": safe(math.sqrt),
    "sgn": lambda v: v if v == 0 or math.isnan(v) else math.copysign(1.0, v),
    "sin": safe(math.sin),
    "cos": safe(math.cos),
    "tan": safe(math.tan),
    "asin": safe(math.asin),
    "acos": safe(math.acos),
    "atan": safe(math.atan),
    "sinh": safe(math.sinh),
    "cosh": safe(math.cosh),
    "tanh": safe(math.tanh),
    "asinh": safe(math.asinh),
    "acosh": safe(math.acosh),
    "atanh": safe(math.atanh),
    "deg": math.degrees,
    "rad": math.radians,
}


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


DATES: dict[str, Callable[[datetime], float]] = {
    "year": lambda t: float(t.year),
    "month": lambda t: float(t.month),
    "day_of_month": lambda t: float(t.day),
    "day_of_week": lambda t: float((t.weekday() + 1) % 7),
    "day_of_year": lambda t: float(t.timetuple().tm_yday),
    "days_in_month": lambda t: float(calendar.monthrange(t.year, t.month)[1]),
    "hour": lambda t: float(t.hour),
    "minute": lambda t: float(t.minute),
}


def per_value(
    matrix: Matrix, steps: int, function: Callable[[float, int], float | None], keep_name: bool
) -> Matrix:
    """Each value through ``function(value, step)``, None dropping it; the metric name
    dropped unless ``keep_name``."""
    out = SeriesSet(steps)
    for series in matrix:
        values: list[float | None] = [
            None if v is None else function(v, step) for step, v in enumerate(series.values)
        ]
        out.add_series(series.labels if keep_name else without_name(series.labels), values)
    return out.matrix()


def go_max(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def go_min(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else min(a, b)


def clamp(value: float, low: float, high: float) -> float | None:
    if high < low:
        return None
    return go_max(low, go_min(high, value))


def rounded(value: float, nearest: float) -> float:
    inverse = 1.0 / nearest if nearest != 0 else math.inf
    try:
        return math.floor(value * inverse + 0.5) / inverse
    except (OverflowError, ValueError):
        return value * inverse / inverse if math.isnan(value * inverse) else value


def checked_label_name(name: str, where: str) -> str:
    if not LABEL_NAME.match(name):
        raise PromQLError(f"invalid {where}: {name}", "execution")
    return name


def label_replace(matrix: Matrix, steps: int, arguments: list[str]) -> Matrix:
    """label_replace(v, destination, replacement, source, regex): ``arguments`` are the four
    strings."""
    destination, replacement, source, regex = arguments
    pattern = anchored(regex)
    if pattern is None:
        raise PromQLError(f"invalid regular expression in label_replace(): {regex}", "execution")
    checked_label_name(destination, "destination label name in label_replace()")
    template = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", replacement.replace("\\", "\\\\"))
    out = SeriesSet(steps)
    for series in matrix:
        found = pattern.match(label(series.labels, source))
        labels = series.labels
        if found is not None:
            value = expand(found, template)
            rest = [(k, v) for k, v in labels if k != destination]
            labels = labels_of([*rest, (destination, value)])
        out.add_series(labels, series.values)
    return out.matrix()


def label_join(
    matrix: Matrix, steps: int, destination: str, separator: str, sources: list[str]
) -> Matrix:
    for source in sources:
        checked_label_name(source, "source label name in label_join()")
    checked_label_name(destination, "destination label name in label_join()")
    out = SeriesSet(steps)
    for series in matrix:
        joined = separator.join(label(series.labels, s) for s in sources)
        rest = [(k, v) for k, v in series.labels if k != destination]
        out.add_series(labels_of([*rest, (destination, joined)]), series.values)
    return out.matrix()


def absent_labels(matchers: list[tuple[str, str, str]]) -> Labels:
    """absent()'s labels: those its selector fixes with one equality matcher each."""
    fixed: dict[str, str] = {}
    constrained: set[str] = set()
    for name, op, value in matchers:
        if name == "__name__":
            continue
        if op == "=" and name not in fixed:
            fixed[name] = value
        else:
            constrained.add(name)
    return labels_of({k: v for k, v in fixed.items() if k not in constrained})
