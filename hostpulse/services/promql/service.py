"""Answering Prometheus' query API: instant and range queries, series, label names and values,
metadata, with Prometheus' limits and its errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hostpulse.core.ports import Metadata, MetadataStore
from hostpulse.core.prometheus_names import metadata
from hostpulse.core.tiers import Tier, finest_within
from hostpulse.services.promql import wire
from hostpulse.services.promql.evaluate import Evaluator, Limits
from hostpulse.services.promql.gomath import format_values
from hostpulse.services.promql.model import (
    Labels,
    Matrix,
    PromQLError,
    RangeVector,
    Scalar,
    Series,
    StoredSeries,
    String,
    Value,
)
from hostpulse.services.promql.params import clamped
from hostpulse.services.promql.parse import matchers_of, parse, unwrap
from hostpulse.services.promql.ports import Matcher, SeriesSource
from hostpulse.services.promql.span import read_span

log = logging.getLogger(__name__)
MAX_POINTS = 11_000  # Prometheus' bound on a range query's points per series
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class QueryLimits:
    timeout_s: float = 20.0
    max_series: int = 20_000  # series one selector may touch
    max_samples: int = 5_000_000
    lookback_ms: int = 300_000


@dataclass(frozen=True)
class StepRange:
    """A range query's steps: from start to end (inclusive), every step, in ms."""

    start_ms: int
    end_ms: int
    step_ms: int


@dataclass(frozen=True)
class QueryAnswer:
    result_type: str
    result: Any
    tier: str

    def data(self) -> dict[str, Any]:
        return {"resultType": self.result_type, "result": self.result}


def as_datetime(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=clamped(ms))


class PromQLService:
    def __init__(
        self,
        source: SeriesSource,
        tiers: Sequence[Tier],
        limits: QueryLimits | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        metadata_source: MetadataStore | None = None,
    ) -> None:
        self.source = source
        self.metadata_source = metadata_source  # what remote-write senders said
        self.tiers = tuple(tiers)
        self.limits = limits or QueryLimits()
        self.now = now

    # -- queries ----------------------------------------------------------------------------
    def instant(
        self, query: str, at_ms: int, timeout_s: float | None = None, tier: str | None = None
    ) -> QueryAnswer:
        tree = parse(query)
        chosen, evaluator = self.evaluator(tree, at_ms, at_ms, timeout_s, tier)
        value = evaluator.eval(tree, [at_ms])
        return QueryAnswer(*instant_result(value, at_ms, evaluator), chosen.name)

    def range(
        self, query: str, steps: StepRange, timeout_s: float | None = None, tier: str | None = None
    ) -> QueryAnswer:
        start_ms, end_ms, step_ms = steps.start_ms, steps.end_ms, steps.step_ms
        if end_ms < start_ms:
            raise PromQLError("end timestamp must not be before start time")
        if step_ms <= 0:
            raise PromQLError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        if (end_ms - start_ms) / step_ms > MAX_POINTS:
            raise PromQLError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        tree = parse(query)
        kind = type(unwrap(tree)).__name__
        if kind in ("MatrixSelector", "SubqueryExpr", "StringLiteral"):
            name = "string" if kind == "StringLiteral" else "range vector"
            raise PromQLError(
                f'invalid parameter "query": invalid expression type "{name}" for range query, '
                "must be Scalar or instant Vector"
            )
        chosen, evaluator = self.evaluator(tree, start_ms, end_ms, timeout_s, tier)
        times = list(range(start_ms, end_ms + 1, step_ms))
        value = evaluator.eval(tree, times)
        if isinstance(value, Scalar):
            value = [_scalar_series(value)]
        matrix = sorted(value, key=lambda s: s.labels) if isinstance(value, list) else []
        stamps = [wire.seconds(t) for t in times]
        result = []
        for series in matrix:
            present = [i for i, v in enumerate(series.values) if v is not None]
            texts = format_values([v for v in series.values if v is not None])
            # pairs as tuples, made in C: JSON writes them as the same arrays
            points = list(zip(map(stamps.__getitem__, present), texts, strict=True))
            result.append({"metric": wire.metric(series.labels), "values": points})
        return QueryAnswer("matrix", result, chosen.name)

    def evaluator(
        self, tree: Any, start_ms: int, end_ms: int, timeout_s: float | None, tier_name: str | None
    ) -> tuple[Tier, Evaluator]:
        span = read_span(tree, start_ms, end_ms, (start_ms, end_ms), self.limits.lookback_ms)
        low, high = span if span is not None else (start_ms, end_ms)
        tier = self.tier(low, high, tier_name)
        timeout = min(timeout_s or self.limits.timeout_s, self.limits.timeout_s)
        limits = Limits(
            lookback_ms=self.limits.lookback_ms,
            max_samples=self.limits.max_samples,
            deadline=time.monotonic() + timeout,
        )

        def load(matchers: list[Matcher], first: int, last: int) -> list[StoredSeries]:
            return self.source.select(matchers, (first, last), tier, self.limits.max_series)

        return tier, Evaluator(load, start_ms, end_ms, limits)

    def tier(self, low: int, high: int, asked: str | None) -> Tier:
        if asked is not None:
            for tier in self.tiers:
                if tier.name == asked:
                    return tier
            raise PromQLError(f"unknown tier {asked!r}")
        return finest_within(
            self.tiers, as_datetime(low), as_datetime(high), self.now(), MAX_POINTS
        )

    # -- the catalogue ----------------------------------------------------------------------
    def matching(
        self, selectors: Sequence[str], start_ms: int, end_ms: int, limit: int
    ) -> list[Labels]:
        found: dict[Labels, None] = {}
        for text in selectors or ['{__name__=~".+"}']:
            tree = parse(text)
            if type(tree).__name__ != "VectorSelector":
                raise PromQLError(f'invalid parameter "match[]": {text!r} is not a series selector')
            for labels in self.source.label_sets(matchers_of(tree), start_ms, end_ms, limit):
                found[labels] = None
        return sorted(found)

    def series(
        self, selectors: Sequence[str], start_ms: int, end_ms: int, limit: int
    ) -> list[dict[str, str]]:
        return [
            dict(labels) for labels in self.matching(selectors, start_ms, end_ms, limit)[:limit]
        ]

    def label_names(
        self, selectors: Sequence[str], start_ms: int, end_ms: int, limit: int
    ) -> list[str]:
        names = {
            name
            for labels in self.matching(selectors, start_ms, end_ms, self.limits.max_series)
            for name, _ in labels
        }
        return sorted(names)[:limit]

    def label_values(
        self, name: str, selectors: Sequence[str], start_ms: int, end_ms: int, limit: int
    ) -> list[str]:
        values = {
            value
            for labels in self.matching(selectors, start_ms, end_ms, self.limits.max_series)
            for key, value in labels
            if key == name
        }
        return sorted(values)[:limit]

    def metadata(self, metric: str | None, limit: int) -> dict[str, list[dict[str, str]]]:
        known: dict[str, Metadata] = {**self.sent_metadata(), **metadata()}
        names = [metric] if metric else sorted(known)
        answer = {
            name: [{"type": known[name][0], "help": known[name][1], "unit": known[name][2]}]
            for name in names
            if name in known
        }
        return dict(list(answer.items())[:limit]) if limit >= 0 else answer

    def sent_metadata(self) -> dict[str, Metadata]:
        """What remote-write senders said of their metrics; nothing while it cannot be read
        (hostpulse's own names are answered all the same)."""
        source = self.metadata_source
        if source is None:
            return {}
        try:
            return source.read()
        except Exception:  # Redis away: the metadata API is best effort, as the hot tier
            log.warning("remote-write metadata unavailable", exc_info=True)
            return {}


def _scalar_series(value: Scalar) -> Series:
    return Series((), list[float | None](value.values))


def instant_result(value: Value, at_ms: int, evaluator: Evaluator) -> tuple[str, Any]:
    if isinstance(value, Scalar):
        return "scalar", wire.point(at_ms, value.values[0])
    if isinstance(value, String):
        return "string", [wire.seconds(at_ms), value.value]
    if isinstance(value, RangeVector):
        result = []
        for series in value.series:
            window = evaluator.window(value, series, at_ms)
            if window is not None:
                result.append(
                    {
                        "metric": wire.metric(series.labels),
                        "values": [
                            wire.point(t, v)
                            for t, v in zip(window.times, window.values, strict=True)
                        ],
                    }
                )
        return "matrix", result
    matrix: Matrix = value
    return "vector", [
        {"metric": wire.metric(s.labels), "value": wire.point(at_ms, v)}
        for s in matrix
        if (v := s.values[0]) is not None
    ]
