"""The semantics of one rule on one host, as a pure function of its points: Prometheus'
alerting rule evaluated at every moment rather than on an interval.

The state is recomputed from the points themselves, ordered by their timestamps, so a batch
that arrives late, out of order or twice gives the same answer as one that arrived on time.
A sample stays the series' value until the next one, for at most ``lookback`` (Prometheus'
lookback delta, five minutes, that moment included as in Prometheus 2): after that the series
is absent, as Prometheus sees it stale.

- a breaching value starts a run (``pending``); the run fires once it has lasted ``for``,
  at that moment, on the value it still sees (``for`` = 0 fires on the first breaching point);
- a value that does not breach, or absence, ends a pending run at once; a firing alert keeps
  firing for ``keep_firing_for`` from the first moment it no longer breaches (as Prometheus
  counts it), and resolves then unless it breaches again before;
- ``until``: how far to follow the last value (the schedule passes now, so that a host gone
  silent fires what it was about to fire and resolves once stale); None: up to the last point.
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


@dataclass
class _Machine:
    """The rule's state through time: ``advance`` moves it to a moment while the value in sight
    stays the same, ``see`` takes a new value (None: the series is absent)."""

    for_ms: int
    keep_firing_for_ms: int
    timeline: Timeline = field(default_factory=Timeline)
    firing: Episode | None = None
    clear_since_ms: int | None = None  # firing, but no longer breaching since then
    value: float | None = None

    def advance(self, to_ms: int, *, through: bool = True) -> None:
        """Up to ``to_ms`` (not through it when a new value takes over at that moment)."""
        t = self.timeline
        if t.state == "pending" and t.pending_since_ms is not None:
            fires_ms = t.pending_since_ms + self.for_ms
            if (fires_ms < to_ms or (through and fires_ms == to_ms)) and self.value is not None:
                self._fire(fires_ms)
        if t.state == "firing" and self.clear_since_ms is not None:
            ends_ms = self.clear_since_ms + self.keep_firing_for_ms
            if ends_ms < to_ms or (through and ends_ms == to_ms):
                self._resolve(ends_ms)

    def see(self, ts_ms: int, value: float | None, breach: bool) -> None:
        self.advance(ts_ms, through=False)
        t = self.timeline
        self.value = value
        if breach:
            self.clear_since_ms = None
            if t.state == "inactive":
                t.state, t.pending_since_ms = "pending", ts_ms
            self.advance(ts_ms)  # for = 0: fires now
            return
        if t.state == "pending":
            t.state, t.pending_since_ms = "inactive", None
        elif t.state == "firing" and self.clear_since_ms is None:
            self.clear_since_ms = ts_ms
            self.advance(ts_ms)  # keep_firing_for = 0: resolves now

    def _fire(self, ts_ms: int) -> None:
        t = self.timeline
        assert t.pending_since_ms is not None and self.value is not None
        self.firing = Episode(t.pending_since_ms, ts_ms, self.value)
        t.episodes.append(self.firing)
        t.state = "firing"

    def _resolve(self, ts_ms: int) -> None:
        assert self.firing is not None
        self.firing.resolved_ms, self.firing.resolved_value = ts_ms, self.value
        self.timeline.state, self.timeline.pending_since_ms = "inactive", None
        self.firing, self.clear_since_ms = None, None


def evaluate(
    points: Iterable[Point],
    for_ms: int,
    keep_firing_for_ms: int,
    lookback_ms: int,
    until_ms: int | None = None,
) -> Timeline:
    machine = _Machine(for_ms, keep_firing_for_ms)
    by_time = {p.ts_ms: p for p in points}  # a duplicate timestamp is the same sample
    previous: Point | None = None
    for ts in sorted(by_time):
        if previous is not None and ts - previous.ts_ms > lookback_ms:
            machine.see(previous.ts_ms + lookback_ms + 1, None, False)  # stale in between
        point = by_time[ts]
        machine.see(ts, point.value, point.breach)
        machine.timeline.last_ts_ms, machine.timeline.last_value = ts, point.value
        previous = point
    if until_ms is not None and previous is not None:
        stale_ms = previous.ts_ms + lookback_ms + 1  # a sample is seen through its lookback
        if until_ms >= stale_ms:
            machine.see(stale_ms, None, False)
        machine.advance(until_ms)
    return machine.timeline
