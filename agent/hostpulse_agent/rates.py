"""Per-second rates from cumulative counters: the one place counter differences are taken.

A counter that goes down either wrapped (a 32-bit kernel counter passing 2**32) or was reset
(a reboot, an interface or disk that came back, a process that restarted). A wrap is counted
through; a reset counts what the counter holds now, as Prometheus' ``rate()`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

WRAP_32 = 2**32


def counter_delta(previous: float, current: float) -> float:
    if current >= previous:
        return current - previous
    if previous < WRAP_32 and previous > WRAP_32 // 2 and current < WRAP_32 // 2:
        return current + WRAP_32 - previous  # a 32-bit counter wrapped
    return current  # reset: it counted up from zero since


class Rates:
    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[float, float]] = {}

    def rate(self, key: Hashable, value: float, now: float) -> float | None:
        """Units per second since the previous reading of ``key``; None for the first one."""
        previous = self._last.get(key)
        self._last[key] = (now, value)
        if previous is None:
            return None
        elapsed = now - previous[0]
        if elapsed <= 0:
            return None
        return counter_delta(previous[1], value) / elapsed

    def retain(self, keep: Callable[[Hashable], bool]) -> None:
        """Drop the state of counters that are gone (exited processes, removed devices)."""
        for key in [k for k in self._last if not keep(k)]:
            del self._last[key]
