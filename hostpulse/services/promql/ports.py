"""What the PromQL engine reads: series by label matchers, from one tier and those below it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol

from hostpulse.services.promql.model import PromQLError
from hostpulse.services.promql.regex import Pattern, anchored

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hostpulse.core.tiers import Tier
    from hostpulse.services.promql.model import Labels, StoredSeries

MatchOp = Literal["=", "!=", "=~", "!~"]


@dataclass(frozen=True)
class Matcher:
    name: str
    op: MatchOp
    value: str

    @cached_property
    def pattern(self) -> Pattern:
        compiled = anchored(self.value)
        if compiled is None:
            raise PromQLError(f"invalid regular expression {self.value!r} in a label matcher")
        return compiled

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = self.pattern.match(value) is not None
        return found if self.op == "=~" else not found


class SeriesSource(Protocol):
    def select(
        self, matchers: Sequence[Matcher], span: tuple[int, int], tier: Tier, max_series: int
    ) -> list[StoredSeries]:
        """Every series the matchers select, with its points in the span (ms, both ends
        included) read from ``tier`` and, past its watermark, the tiers below it. More than
        ``max_series`` of them is refused (``too_many_series``) before any point is read."""
        ...

    def label_sets(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, limit: int
    ) -> list[Labels]:
        """The label sets of the series the matchers select that have samples in the span
        (as far as the catalogue knows: by their host's first and last sample), at most
        ``limit`` + 1 of them so that the caller can tell a bound was passed."""
        ...
