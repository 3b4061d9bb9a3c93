"""Dependencies that help but are not needed: Redis for ingest (hot tier, rate limits, the
failed-token throttle, the pipeline's tally) and for aggregation (the tally). Without them a
batch is still queued and answered 202, and still stored."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from hostpulse.core.ports import Counters

log = logging.getLogger(__name__)
T = TypeVar("T")


class Guard:
    """Calls a helping dependency; after a failure, leaves it alone for ``cooldown_s``, so that
    while it is away ingest pays its timeout once, not on every request of every agent."""

    def __init__(
        self,
        counters: Counters,
        cooldown_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counters = counters
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.away_until = float("-inf")

    def call(self, action: Callable[[], T], fallback: T, failure: str) -> T:
        if self.clock() < self.away_until:
            self.counters.count("redis_skipped")
            return fallback
        try:
            return action()
        except Exception:
            log.warning(
                "%s; going on without it for %.0f s", failure, self.cooldown_s, exc_info=True
            )
            self.counters.count(failure)
            self.away_until = self.clock() + self.cooldown_s
            return fallback
