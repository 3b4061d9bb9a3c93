"""The semantics of one rule on one host, as a pure function of its points.

The state is recomputed from the points themselves, ordered by their timestamps, so a batch
that arrives late, out of order or twice gives the same answer as one that arrived on time:

- a breaching point starts a run (``pending``); the run fires once it has lasted ``for`` (a
  point at exactly ``for`` fires; ``for`` = 0 fires on the first breaching point);
- a point that does not breach ends a pending run; a firing alert stays firing through
  dips shorter than ``keep_firing_for`` and resolves at the first point past it;
- a gap in the data longer than ``max_gap`` breaks a pending run (a host that goes silent is
  the business of the absent-data rule, not of this one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

State = Literal["inactive", "pending", "firing"]


@dataclass(frozen=True)
class Point:
    ts_ms: int
    value: float
    breach: bool


@dataclass
class Episode:
    """One firing: from the first breaching point of its run to its resolution."""

    started_ms: int
    fired_ms: int
    fired_value: float
    resolved_ms: int | None = None
    resolved_value: float | None = None


@dataclass
class Timeline:
    state: State = "inactive"
    pending_since_ms: int | None = None
    episodes: list[Episode] = field(default_factory=list)
    last_ts_ms: int | None = None
    last_value: float | None = None


def evaluate(
    points: Iterable[Point], for_ms: int, keep_firing_for_ms: int, max_gap_ms: int
) -> Timeline:
    timeline = Timeline()
    last_breach_ms: int | None = None
    firing: Episode | None = None
    by_time = {p.ts_ms: p for p in points}  # a duplicate timestamp is the same sample
    for ts in sorted(by_time):
        point = by_time[ts]
        gap = timeline.last_ts_ms is not None and ts - timeline.last_ts_ms > max_gap_ms
        if gap and timeline.state == "pending":
            timeline.state, timeline.pending_since_ms = "inactive", None
        if point.breach:
            last_breach_ms = ts
            if timeline.state == "inactive":
                timeline.state, timeline.pending_since_ms = "pending", ts
            started = ts if timeline.pending_since_ms is None else timeline.pending_since_ms
            if timeline.state == "pending" and ts - started >= for_ms:
                firing = Episode(started, ts, point.value)
                timeline.episodes.append(firing)
                timeline.state = "firing"
        elif timeline.state == "pending":
            timeline.state, timeline.pending_since_ms = "inactive", None
        elif (
            timeline.state == "firing"
            and firing is not None
            and last_breach_ms is not None
            and ts - last_breach_ms >= keep_firing_for_ms
        ):
            firing.resolved_ms, firing.resolved_value = ts, point.value
            timeline.state, timeline.pending_since_ms, firing = "inactive", None, None
        timeline.last_ts_ms, timeline.last_value = ts, point.value
    return timeline
