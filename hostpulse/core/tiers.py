"""Resolution tiers: how long each keeps data and which one a query reads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

TierName = Literal["raw", "1m", "5m", "30m", "1h", "6h"]
RAW_RESOLUTION_S = 1  # raw points are as sent; a step is never finer than a second


@dataclass(frozen=True)
class Tier:
    name: TierName
    table: str
    resolution_s: int
    retention: timedelta
    # Rolled up from the tier below once a bucket has closed, instead of merged on every write;
    # what comes after its watermark is read from the tiers below it (``read_chain``).
    rolled: bool = False


def default_tiers(
    raw: timedelta = timedelta(hours=24),
    minute: timedelta = timedelta(days=7),
    hour: timedelta = timedelta(days=90),
) -> tuple[Tier, ...]:
    """Raw rows are written with each batch; every bucketed tier is rolled up from the one
    below once its buckets close. The coarser tiers exist so that a view reads about as many
    rows as it shows points (24 h: 5 min, 7 d: 30 min, 90 d: 6 h) and are kept as long as the
    finest tier of their range."""
    return (
        Tier("raw", "samples_raw", RAW_RESOLUTION_S, raw),
        Tier("1m", "samples_1m", 60, minute, rolled=True),
        Tier("5m", "samples_5m", 300, minute, rolled=True),
        Tier("30m", "samples_30m", 1800, hour, rolled=True),
        Tier("1h", "samples_1h", 3600, hour, rolled=True),
        Tier("6h", "samples_6h", 21600, hour, rolled=True),
    )


ROLLED_TIERS = tuple(tier for tier in default_tiers() if tier.rolled)


def read_chain(tiers: Sequence[Tier], tier: Tier) -> tuple[Tier, ...]:
    """A tier and every one below it down to raw, coarsest first. A read takes each up to its
    watermark and the next after it: the buckets not rolled up yet are in the tier below, down
    to the newest samples, which only the raw tier holds."""
    below = [t for t in tiers if t.resolution_s <= tier.resolution_s]
    return tuple(sorted(below, key=lambda t: t.resolution_s, reverse=True))


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
    holding ``start`` whose resolution gives at least half the points the budget allows (a
    caller's own step: at most that step), so a view reads about as many rows as it shows:
    24 h in 400 points reads 288 five-minute rows per series, not 1,440 one-minute ones. A
    caller may force a tier; a step is never finer than the tier's resolution.
    """
    start, end = asked.start, asked.end
    if end <= start:
        raise RangeError("'to' must be after 'from'")
    needed = max(asked.step_s or 0, math.ceil((end - start).total_seconds() / max_points))
    if asked.tier is not None:
        tier = next(t for t in tiers if t.name == asked.tier)
    else:
        holding = [t for t in tiers if now - t.retention - EDGE_SLACK <= start] or [tiers[-1]]
        coarsest = needed if asked.step_s is not None else 2 * needed
        fitting = [t for t in holding if t.resolution_s <= coarsest]
        tier = fitting[-1] if fitting else holding[0]
    return TierChoice(tier, max(tier.resolution_s, needed))


def finest_within(
    tiers: Sequence[Tier], start: datetime, end: datetime, now: datetime, max_points: int
) -> Tier:
    """The finest tier that still holds ``start`` and covers [start, end] in at most
    ``max_points`` per series at its resolution (a PromQL read: its functions see the
    tier's points, so the finest that fits); the coarsest holding one if none fits."""
    holding = [t for t in tiers if now - t.retention - EDGE_SLACK <= start] or [tiers[-1]]
    span_s = (end - start).total_seconds()
    for tier in sorted(holding, key=lambda t: t.resolution_s):
        if span_s / tier.resolution_s <= max_points:
            return tier
    return max(holding, key=lambda t: t.resolution_s)
