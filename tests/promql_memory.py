"""An in-memory series source for the PromQL engine: series as a sender wrote them, selected
by label matchers, as the PostgreSQL source answers from the raw tier."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence

from hostpulse.core.tiers import Tier
from hostpulse.services.promql.model import Labels, StoredSeries, too_many_series
from hostpulse.services.promql.ports import Matcher


class MemorySeriesSource:
    def __init__(self, series: Mapping[Labels, Sequence[tuple[int, float]]]) -> None:
        self.series = {labels: sorted(points) for labels, points in series.items()}
        self.selects = 0
        self.series_read = 0

    def matching(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [
            labels
            for labels in self.series
            if all(m.matches(dict(labels).get(m.name, "")) for m in matchers)
        ]

    def select(
        self, matchers: Sequence[Matcher], span: tuple[int, int], tier: Tier, max_series: int
    ) -> list[StoredSeries]:
        self.selects += 1
        start_ms, end_ms = span
        chosen = self.matching(matchers)
        if len(chosen) > max_series:
            raise too_many_series(len(chosen), max_series)
        found = []
        for labels in chosen:
            self.series_read += 1
            points = self.series[labels]
            times = [t for t, _ in points]
            first, last = bisect_left(times, start_ms), bisect_right(times, end_ms)
            if last > first:
                window = points[first:last]
                found.append(StoredSeries(labels, [t for t, _ in window], [v for _, v in window]))
        return found

    def label_sets(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, limit: int
    ) -> list[Labels]:
        return self.matching(matchers)[: limit + 1]
