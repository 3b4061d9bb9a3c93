"""The values a PromQL evaluation passes around, and the errors it answers with.

Labels are a sorted tuple of (name, value) pairs: hashable, so series are found by them, and
in the order Prometheus sorts a range query's answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Labels = tuple[tuple[str, str], ...]
NAME = "__name__"
ErrorType = Literal["bad_data", "execution", "timeout", "internal"]


class PromQLError(Exception):
    """A query Prometheus would refuse, with the errorType it would answer."""

    def __init__(self, message: str, error_type: ErrorType = "bad_data") -> None:
        super().__init__(message)
        self.error_type: ErrorType = error_type


def execution_error(message: str) -> PromQLError:
    return PromQLError(message, "execution")


def too_many_series(count: int, limit: int) -> PromQLError:
    return execution_error(
        f"the query's selectors touch {count} series, more than {limit}: "
        "narrow them with label matchers"
    )


def labels_of(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """Sorted, without empty values: an empty label is the same as no label in Prometheus."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return tuple(sorted((k, v) for k, v in items if v != ""))


def label(labels: Labels, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""


def without_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != NAME)


def keep_only(labels: Labels, names: Iterable[str]) -> Labels:
    wanted = set(names)
    return tuple(pair for pair in labels if pair[0] in wanted)


def drop(labels: Labels, names: Iterable[str]) -> Labels:
    unwanted = set(names)
    return tuple(pair for pair in labels if pair[0] not in unwanted)


def with_label(labels: Labels, name: str, value: str) -> Labels:
    return labels_of([*(p for p in labels if p[0] != name), (name, value)])


def render(labels: Labels) -> str:
    name = label(labels, NAME)
    rest = ", ".join(f'{k}="{v}"' for k, v in labels if k != NAME)
    return f"{name}{{{rest}}}"


class BucketStats(NamedTuple):
    """What a rolled bucket keeps of its samples beside the last: enough for the functions
    over time that they make exact on aligned windows. ``first`` is its first sample's value
    at ``first_ms``; ``reset_sum`` adds up the values a counter fell from at its resets in
    it (None where unknown: a late sample between the bucket's samples, or a bucket rolled
    before hostpulse kept them)."""

    min: float
    max: float
    sum: float
    samples: int
    first: float | None = None
    first_ms: int | None = None
    reset_sum: float | None = None


@dataclass
class StoredSeries:
    """A series as read from the tiers, oldest first. A raw sample is a bucket of one: its
    start, end and time are its timestamp. A rolled bucket covers [start, end), its value is
    its last sample's, at ``times``; ``stats`` are what else it keeps of its samples."""

    labels: Labels
    times: list[int]
    values: list[float]
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    stats: list[BucketStats] | None = None

    def __post_init__(self) -> None:
        if not self.starts:
            self.starts = self.times
        if not self.ends:
            self.ends = self.times


@dataclass
class Series:
    """An instant vector's series over the evaluation's steps: a value per step or None.
    ``times`` holds the sample times where a selector read them (``timestamp()``)."""

    labels: Labels
    values: list[float | None]
    times: list[int | None] | None = None


@dataclass
class Window:
    """What a range vector holds at one step: its points, and the bucket statistics when the
    points are rolled buckets."""

    times: list[int]
    values: list[float]
    stats: list[BucketStats] | None
    start_ms: int  # the range's bounds, for rate's extrapolation
    end_ms: int
    # A rolled bucket reaches over the range's start (end): the window holds only the whole
    # buckets inside it, and the series goes on past what it holds.
    cut_start: bool = False
    cut_end: bool = False


@dataclass
class RangeVector:
    """A matrix selector or a subquery: its series, and which of their points a step sees."""

    series: list[StoredSeries]
    range_ms: int
    offset_ms: int
    at_ms: int | None

    def bounds(self, step_ms: int) -> tuple[int, int]:
        end = (self.at_ms if self.at_ms is not None else step_ms) - self.offset_ms
        return end - self.range_ms, end


Matrix = list[Series]
Steps = list[int]


@dataclass
class Scalar:
    values: list[float]


@dataclass
class String:
    value: str


Value = Matrix | Scalar | String | RangeVector
