"""Resolution tiers: how long each keeps data and which one a query reads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

TierName = Literal["raw", "1m", "1h"]
RAW_RESOLUTION_S = 1  # raw points are as sent; a step is never finer than a second


@dataclass(frozen=True)
class Tier:
    name: TierName
    table: str
    resolution_s: int
    retention: timedelta


def default_tiers(
    raw: timedelta = timedelta(hours=24),
    minute: timedelta = timedelta(days=7),
    hour: timedelta = timedelta(days=90),
) -> tuple[Tier, Tier, Tier]:
    return (
        Tier("raw", "samples_raw", RAW_RESOLUTION_S, raw),
        Tier("1m", "samples_1m", 60, minute),
        Tier("1h", "samples_1h", 3600, hour),
    )


# "The last 7 days" sent by a browser starts a little before now - 7 d by the time it is
# answered (clock skew, latency). Retention drops whole day partitions, so a tier still holds
# that edge; without the slack such a range would fall through to the next, coarser tier.
EDGE_SLACK = timedelta(minutes=10)


@dataclass(frozen=True)
class TierChoice:
    tier: Tier
    step_s: int  # the resolution of the answer: the tier's, or coarser to fit the budget


class RangeError(ValueError):
    """The requested range cannot be served; the message says why."""


@dataclass(frozen=True)
class RangeQuery:
    """A range to answer, and what the caller asks of its resolution: a tier, a step."""

    start: datetime
    end: datetime
    tier: TierName | None = None
    step_s: int | None = None


def choose_tier(
    tiers: Sequence[Tier], asked: RangeQuery, now: datetime, max_points: int
) -> TierChoice:
    """The tier and step that answer a range within ``max_points``.

    The step is what the budget (or the caller) needs; the tier is the coarsest one still
    holding ``start`` whose resolution is at or below that step, so no detail the answer can
    show is lost and no finer rows than needed are read. A caller may force a tier; a step is
    never finer than the tier's resolution.
    """
    start, end = asked.start, asked.end
    if end <= start:
        raise RangeError("'to' must be after 'from'")
    needed = max(asked.step_s or 0, math.ceil((end - start).total_seconds() / max_points))
    if asked.tier is not None:
        tier = next(t for t in tiers if t.name == asked.tier)
    else:
        holding = [t for t in tiers if now - t.retention - EDGE_SLACK <= start] or [tiers[-1]]
        fitting = [t for t in holding if t.resolution_s <= needed]
        tier = fitting[-1] if fitting else holding[0]
    return TierChoice(tier, max(tier.resolution_s, needed))
