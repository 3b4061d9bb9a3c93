"""Resolution tiers: how long each keeps data and which one a query reads."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

TierName = Literal["raw", "1m", "1h"]
NOMINAL_RAW_RESOLUTION_S = 5  # the agent's default interval; raw points are as sent


@dataclass(frozen=True)
class Tier:
    name: TierName
    table: str
    resolution_s: int
    retention: timedelta
    time_column: str

    def bucket_of(self, ts: datetime) -> datetime:
        """Start of the bucket holding ``ts`` (raw points are their own bucket)."""
        if self.name == "raw":
            return ts
        epoch = int(ts.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.resolution_s, tz=ts.tzinfo)


def default_tiers(
    raw: timedelta = timedelta(hours=24),
    minute: timedelta = timedelta(days=7),
    hour: timedelta = timedelta(days=90),
) -> tuple[Tier, Tier, Tier]:
    return (
        Tier("raw", "samples_raw", NOMINAL_RAW_RESOLUTION_S, raw, "ts"),
        Tier("1m", "samples_1m", 60, minute, "bucket"),
        Tier("1h", "samples_1h", 3600, hour, "bucket"),
    )


@dataclass(frozen=True)
class TierChoice:
    tier: Tier
    step_s: int  # the resolution of the answer: the tier's, or coarser to fit the budget


class RangeError(ValueError):
    """The requested range cannot be served; the message says why."""


def choose_tier(
    tiers: Sequence[Tier],
    start: datetime,
    end: datetime,
    now: datetime,
    max_points: int,
    forced: TierName | None = None,
    step_s: int | None = None,
) -> TierChoice:
    """The finest tier that still holds ``start`` and answers within ``max_points``.

    A caller may force a tier or a step; a step finer than the tier's resolution is raised to it.
    """
    if end <= start:
        raise RangeError("'to' must be after 'from'")
    span_s = (end - start).total_seconds()
    by_name = {tier.name: tier for tier in tiers}
    if forced is not None:
        candidates: Iterable[Tier] = [by_name[forced]]
    else:
        holding = [tier for tier in tiers if now - tier.retention <= start]
        candidates = holding or [tiers[-1]]
    chosen = None
    for tier in candidates:
        resolution = max(tier.resolution_s, step_s or 0)
        if forced is not None or span_s / resolution <= max_points:
            chosen = tier
            break
    if chosen is None:
        chosen = list(candidates)[-1]
    resolution = max(chosen.resolution_s, step_s or 0)
    if span_s / resolution > max_points:
        resolution = math.ceil(span_s / max_points)
    return TierChoice(chosen, resolution)
