"""Building an instant vector over the steps, one (labels, step, value) at a time, refusing
two series with the same labels at one step as Prometheus does."""

from __future__ import annotations

from hostpulse.services.promql.model import Labels, Matrix, Series, execution_error

SAME_LABELS = "vector cannot contain metrics with the same labelset"


class SeriesSet:
    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.found: dict[Labels, Series] = {}

    def add(self, labels: Labels, step: int, value: float) -> None:
        series = self.found.get(labels)
        if series is None:
            series = self.found[labels] = Series(labels, [None] * self.steps)
        elif series.values[step] is not None:
            raise execution_error(SAME_LABELS)
        series.values[step] = value

    def add_series(self, labels: Labels, values: list[float | None]) -> None:
        """A whole series; merged with one of the same labels where their steps differ."""
        series = self.found.get(labels)
        if series is None:
            self.found[labels] = Series(labels, values)
            return
        for step, value in enumerate(values):
            if value is not None:
                if series.values[step] is not None:
                    raise execution_error(SAME_LABELS)
                series.values[step] = value

    def matrix(self) -> Matrix:
        return [s for s in self.found.values() if any(v is not None for v in s.values)]


def at_step(matrix: Matrix, step: int) -> list[tuple[Series, float]]:
    """The instant vector a matrix holds at one step."""
    out = []
    for series in matrix:
        value = series.values[step]
        if value is not None:
            out.append((series, value))
    return out
