"""Rolled tiers: every bucketed tier is built from the tier below once its buckets close.

Writes keep only the raw tier (a COPY of the new rows); a rolled tier's buckets are made in one
insert per closed span instead of being updated by every batch. Until a bucket is rolled, the
series query reads it from the tiers below, down to raw, so nothing is missing in the meantime;
a sample that arrives after its bucket was rolled is merged into it by its write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hostpulse.core.tiers import Tier
from hostpulse.services.aggregate.ports import TierRoller

log = logging.getLogger(__name__)

# Samples reach the store a batch period plus the queue's wait after they were taken; a bucket
# is rolled this long after it closed, so that rows merged late into a rolled bucket stay rare.
SETTLE = timedelta(minutes=2)
# One rollup covers at most this much of a tier, so a tier far behind (a new tier, an outage)
# catches up in short transactions.
MAX_SPAN = timedelta(days=1)
RETRY = timedelta(seconds=30)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def closed_until(tier: Tier, now: datetime) -> datetime:
    """The end of the tier's last bucket that closed at least ``SETTLE`` ago."""
    settled = (now - SETTLE - EPOCH).total_seconds()
    return EPOCH + timedelta(seconds=settled - settled % tier.resolution_s)


def roll_up_tiers(roller: TierRoller, tiers: Sequence[Tier], now: datetime) -> bool:
    """Roll each rolled tier up as far as its closed buckets and the tier below allow.

    Tiers go finest first, each from the tier before it, and never past that tier's own
    watermark: a rolled tier is complete only where its source is. Buckets a late write left
    unsure are rolled again first. True when every tier is caught up; False when one is still
    behind (it moved by ``MAX_SPAN``).
    """
    roller.roll_again(tiers)
    marks = roller.watermarks()
    caught_up = True
    for source, tier in pairwise(tiers):
        if not tier.rolled:
            continue
        until = closed_until(tier, now)
        if source.rolled:
            until = min(until, marks[source.name])
        start = marks[tier.name]
        if start >= until:
            continue
        end = min(until, start + MAX_SPAN)
        marks[tier.name] = roller.roll_up(tier, source, start, end)
        caught_up = caught_up and marks[tier.name] >= until
    return caught_up


@dataclass
class RollupSchedule:
    """When this execution environment next looks at the rolled tiers: once the finest rolled
    tier has a new closed bucket, and right away while one is behind. A failed rollup is
    logged and tried again ``RETRY`` later; it never fails the write that triggered it."""

    tiers: Sequence[Tier]
    next_look: datetime | None = field(default=None)

    def run_if_due(self, roller: TierRoller, now: datetime) -> None:
        if self.next_look is not None and now < self.next_look:
            return
        finest = next(tier for tier in self.tiers if tier.rolled)
        self.next_look = closed_until(finest, now) + SETTLE + timedelta(seconds=finest.resolution_s)
        try:
            if not roll_up_tiers(roller, self.tiers, now):
                self.next_look = now
        except Exception:
            log.exception("rolling the tiers up failed; tried again in %s", RETRY)
            self.next_look = now + RETRY
