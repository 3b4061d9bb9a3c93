"""Rates from cumulative counters: what OpenTelemetry senders report as totals (CPU seconds,
bytes read) and hostpulse stores as rates (percent, bytes per second).

A rate needs the counter's previous point. For each series the store keeps the last two points
it saw, so a request sent again (a retry after a lost answer) finds the same base and yields the
same rates. A counter whose start time changed, or whose value went down, was reset: it has no
rate until its next point, as Prometheus' ``rate()`` would not count across a reset either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Series not seen for this long are forgotten: processes come and go, and a host that returns
# after an hour starts its rates afresh.
FORGET_AFTER_NS = 3600 * 10**9


@dataclass(frozen=True)
class CounterPoint:
    start_ns: int
    time_ns: int
    value: float

    def rate_since(self, base: CounterPoint | None) -> float | None:
        """Per second, from ``base``; None across a reset or without a base."""
        if base is None or self.time_ns <= base.time_ns or self.value < base.value:
            return None
        if base.start_ns and self.start_ns and base.start_ns != self.start_ns:
            return None
        return (self.value - base.value) * 1e9 / (self.time_ns - base.time_ns)


@dataclass(frozen=True)
class CounterState:
    """The newest point of a series and the one before it."""

    previous: CounterPoint | None
    latest: CounterPoint

    def advance(self, point: CounterPoint) -> tuple[CounterPoint | None, CounterState]:
        """The base ``point``'s rate is measured from, and the state after it."""
        if point.time_ns == self.latest.time_ns:  # the same point again: the same base
            return self.previous, self
        if point.time_ns < self.latest.time_ns:  # older than what was seen: no rate, no change
            return None, self
        return self.latest, CounterState(self.latest, point)


def advance_all(
    states: Mapping[str, CounterState], points: Mapping[str, CounterPoint]
) -> tuple[dict[str, CounterPoint], dict[str, CounterState]]:
    """Each point's base, and the states that changed."""
    bases: dict[str, CounterPoint] = {}
    changed: dict[str, CounterState] = {}
    for key, point in points.items():
        known = changed.get(key) or states.get(key)
        if known is None:
            changed[key] = CounterState(None, point)
            continue
        base, after = known.advance(point)
        if base is not None:
            bases[key] = base
        if after is not known:
            changed[key] = after
    return bases, changed


def forgotten(states: Mapping[str, CounterState], now_ns: int) -> list[str]:
    return [key for key, s in states.items() if now_ns - s.latest.time_ns > FORGET_AFTER_NS]


class MemoryCounterStore:
    """In one process: tests, and ingest without Redis."""

    def __init__(self) -> None:
        self.hosts: dict[str, dict[str, CounterState]] = {}

    def load(self, host: str) -> dict[str, CounterState]:
        return dict(self.hosts.get(host, {}))

    def save(self, host: str, changed: Mapping[str, CounterState], removed: list[str]) -> None:
        states = self.hosts.setdefault(host, {})
        states.update(changed)
        for key in removed:
            states.pop(key, None)
