"""PromQL's binary operators: arithmetic, comparison (with ``bool``) and the set operators,
with on/ignoring and group_left/group_right matching, as Prometheus 2.42 applies them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hostpulse.services.promql.gomath import div, mod, power
from hostpulse.services.promql.model import (
    NAME,
    Labels,
    Matrix,
    Series,
    drop,
    execution_error,
    keep_only,
    label,
    labels_of,
    render,
    without_name,
)
from hostpulse.services.promql.series_set import SeriesSet, at_step

ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": div,
    "%": mod,
    "^": power,
    "atan2": math.atan2,
}
COMPARISON: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}
SET_OPERATORS = frozenset({"and", "or", "unless"})
# Arithmetic drops the metric name; atan2, in 2.42, keeps it.
DROPS_NAME = frozenset(ARITHMETIC) - {"atan2"}


@dataclass(frozen=True)
class Operator:
    op: str
    as_bool: bool  # a comparison's ``bool``: 0 or 1 for every pair instead of a filter


@dataclass(frozen=True)
class Matching:
    card: str  # "one-to-one", "many-to-one", "one-to-many", "many-to-many"
    on: bool
    labels: tuple[str, ...]
    include: tuple[str, ...] = ()

    def signature(self, labels: Labels) -> Labels:
        if self.on:
            return keep_only(labels, self.labels)
        return drop(labels, [*self.labels, NAME])


def apply(op: str, left: float, right: float) -> tuple[float, bool]:
    """The value and whether the pair is kept: a comparison keeps the left value."""
    if op in COMPARISON:
        return left, COMPARISON[op](left, right)
    return ARITHMETIC[op](left, right), True


def scalars(op: str, left: list[float], right: list[float]) -> list[float]:
    out = []
    for a, b in zip(left, right, strict=True):
        value, kept = apply(op, a, b)
        out.append(float(kept) if op in COMPARISON else value)
    return out


def vector_scalar(
    operator: Operator, vector: Matrix, scalar: list[float], scalar_left: bool, steps: int
) -> Matrix:
    op, as_bool = operator.op, operator.as_bool
    out = SeriesSet(steps)
    drops_name = op in DROPS_NAME or as_bool
    for series in vector:
        labels = without_name(series.labels) if drops_name else series.labels
        for step, sample in enumerate(series.values):
            if sample is None:
                continue
            left, right = (scalar[step], sample) if scalar_left else (sample, scalar[step])
            value, kept = apply(op, left, right)
            if op in COMPARISON and scalar_left:
                value = sample  # the vector's value, even on the right
            if as_bool:
                value, kept = float(kept), True
            if kept:
                out.add(labels, step, value)
    return out.matrix()


def result_labels(many: Labels, one: Labels, op: str, matching: Matching) -> Labels:
    labels = many
    if op in DROPS_NAME:
        labels = without_name(labels)
    if matching.card == "one-to-one":
        labels = (
            keep_only(labels, matching.labels) if matching.on else drop(labels, matching.labels)
        )
    if matching.include:
        kept = dict(drop(labels, matching.include))
        for name in matching.include:
            value = label(one, name)
            if value:
                kept[name] = value
        labels = labels_of(kept)
    return labels


def vectors(
    operator: Operator, left: Matrix, right: Matrix, matching: Matching, steps: int
) -> Matrix:
    op, as_bool = operator.op, operator.as_bool
    if op in SET_OPERATORS:
        return set_operation(op, left, right, matching, steps)
    if matching.card == "one-to-many":  # the "many" side is iterated, the values keep their order
        many, one = right, left
    else:
        many, one = left, right
    signatures = {id(s): matching.signature(s.labels) for s in [*left, *right]}
    names: dict[tuple[Labels, Labels], Labels] = {}
    out = SeriesSet(steps)
    for step in range(steps):
        ones: dict[Labels, tuple[Series, float]] = {}
        for series, value in at_step(one, step):
            sig = signatures[id(series)]
            if sig in ones:
                side = "left" if matching.card == "one-to-many" else "right"
                raise execution_error(
                    f"found duplicate series for the match group {render(sig)} on the {side} "
                    f"hand-side of the operation: [{render(series.labels)}, "
                    f"{render(ones[sig][0].labels)}];many-to-many matching not allowed: "
                    "matching labels must be unique on one side"
                )
            ones[sig] = (series, value)
        matched: dict[Labels, set[Labels]] = {}
        for series, value in at_step(many, step):
            sig = signatures[id(series)]
            partner = ones.get(sig)
            if partner is None:
                continue
            a, b = (partner[1], value) if matching.card == "one-to-many" else (value, partner[1])
            result, kept = apply(op, a, b)
            if as_bool:
                result, kept = float(kept), True
            if not kept:
                continue
            key = (series.labels, partner[0].labels)
            labels = names.get(key)
            if labels is None:
                labels = result_labels(series.labels, partner[0].labels, op, matching)
                labels = names[key] = without_name(labels) if as_bool else labels
            check_unique(matched, sig, labels, matching)
            out.add(labels, step, result)
    return out.matrix()


def check_unique(
    matched: dict[Labels, set[Labels]], sig: Labels, labels: Labels, matching: Matching
) -> None:
    seen = matched.setdefault(sig, set())
    if matching.card == "one-to-one":
        if seen:
            raise execution_error(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )
    elif labels in seen:
        raise execution_error(
            "multiple matches for labels: grouping labels must ensure unique matches"
        )
    seen.add(labels)


def set_operation(op: str, left: Matrix, right: Matrix, matching: Matching, steps: int) -> Matrix:
    signatures = {id(s): matching.signature(s.labels) for s in [*left, *right]}
    out = SeriesSet(steps)
    for step in range(steps):
        lefts, rights = at_step(left, step), at_step(right, step)
        right_sigs = {signatures[id(s)] for s, _ in rights}
        if op == "and":
            chosen = [(s, v) for s, v in lefts if signatures[id(s)] in right_sigs]
        elif op == "unless":
            chosen = [(s, v) for s, v in lefts if signatures[id(s)] not in right_sigs]
        else:
            left_sigs = {signatures[id(s)] for s, _ in lefts}
            chosen = lefts + [(s, v) for s, v in rights if signatures[id(s)] not in left_sigs]
        for series, value in chosen:
            out.add(series.labels, step, value)
    return out.matrix()


def matching_of(card: str, on: bool, names: Sequence[str], include: Sequence[str]) -> Matching:
    return Matching(card, on, tuple(names), tuple(include))
