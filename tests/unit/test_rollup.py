"""When and how far the rolled tiers are rolled up, against an in-memory roller."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from hostpulse.core.tiers import Tier, default_tiers
from hostpulse.services.aggregate.rollup import (
    MAX_SPAN,
    RETRY,
    RollupSchedule,
    closed_until,
    roll_up_tiers,
)

TIERS = default_tiers()
BY_NAME: dict[str, Tier] = {tier.name: tier for tier in TIERS}
NOW = datetime(2026, 11, 22, 14, 7, 30, tzinfo=UTC)


@dataclass
class MemoryRoller:
    marks: dict[str, datetime]
    rolled: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    fails: bool = False
    rolled_again: int = 0

    def watermarks(self) -> dict[str, datetime]:
        if self.fails:
            raise ConnectionError("database away")
        return dict(self.marks)

    def roll_up(self, tier: Tier, source: Tier, start: datetime, end: datetime) -> datetime:
        assert self.marks[tier.name] == start
        self.rolled.append((tier.name, source.name, start, end))
        self.marks[tier.name] = end
        return end

    def roll_again(self, tiers: Sequence[Tier]) -> int:
        self.rolled_again += 1
        return 0


def at(hhmm: str, day: int = 22) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, hours, minutes, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tier", "now", "until"),
    [
        ("5m", at("14:07"), at("14:05")),  # 14:05 closed two minutes ago: settled
        ("5m", at("14:06"), at("14:00")),  # 14:05 closed one minute ago: not yet
        ("30m", at("14:07"), at("14:00")),
        ("1h", at("14:01"), at("13:00")),
        ("6h", at("14:07"), at("12:00")),
    ],
)
def test_a_bucket_is_rolled_once_it_closed_and_settled(
    tier: str, now: datetime, until: datetime
) -> None:
    assert closed_until(BY_NAME[tier], now) == until


def test_each_tier_rolls_from_the_one_below_and_never_past_it() -> None:
    roller = MemoryRoller({"1m": at("13:59"), "5m": at("13:00"), "30m": at("12:00"),
                           "1h": at("12:00"), "6h": at("06:00")})  # fmt: skip

    assert roll_up_tiers(roller, TIERS, NOW)

    assert roller.rolled == [
        ("1m", "raw", at("13:59"), at("14:05")),
        ("5m", "1m", at("13:00"), at("14:05")),
        ("30m", "5m", at("12:00"), at("14:00")),
        ("1h", "30m", at("12:00"), at("14:00")),
        ("6h", "1h", at("06:00"), at("12:00")),
    ]


def test_unsure_buckets_are_rolled_again_on_every_look_even_with_no_span_closed() -> None:
    caught_up = {"1m": at("14:05"), "5m": at("14:05"), "30m": at("14:00"), "1h": at("14:00"),
                 "6h": at("12:00")}  # fmt: skip
    roller = MemoryRoller(dict(caught_up))

    assert roll_up_tiers(roller, TIERS, NOW)
    assert roll_up_tiers(roller, TIERS, NOW)

    assert (roller.rolled, roller.rolled_again) == ([], 2)


def test_a_tier_waits_for_its_source() -> None:
    class FiveMinutesStuck(MemoryRoller):
        def roll_up(self, tier: Tier, source: Tier, start: datetime, end: datetime) -> datetime:
            if tier.name == "5m":
                return start  # another rollup holds the lock: it did not move
            return super().roll_up(tier, source, start, end)

    roller = FiveMinutesStuck({"1m": at("14:05"), "5m": at("13:00"), "30m": at("13:00"),
                               "1h": at("11:00"), "6h": at("06:00")})  # fmt: skip

    assert not roll_up_tiers(roller, TIERS, NOW)

    assert roller.rolled == [  # 30m stays where 5m is; 1h goes as far as 30m; 6h as far as 1h
        ("1h", "30m", at("11:00"), at("13:00")),
        ("6h", "1h", at("06:00"), at("12:00")),
    ]


def test_a_tier_far_behind_catches_up_a_day_at_a_time() -> None:
    start = NOW - timedelta(days=3, hours=1)
    roller = MemoryRoller({name: closed_until(BY_NAME[name], start) for name in BY_NAME
                           if BY_NAME[name].rolled})  # fmt: skip

    rounds = 1
    while not roll_up_tiers(roller, TIERS, NOW):
        rounds += 1

    assert rounds == 4  # three days and a bit, a day per round
    assert all(end - begin <= MAX_SPAN for _, _, begin, end in roller.rolled)
    assert roller.marks["5m"] == closed_until(BY_NAME["5m"], NOW)
    assert roller.marks["6h"] == closed_until(BY_NAME["6h"], NOW)


def test_the_schedule_looks_again_once_the_next_bucket_settles() -> None:
    roller = MemoryRoller({t.name: closed_until(t, NOW) for t in TIERS if t.rolled})
    schedule = RollupSchedule(TIERS)

    schedule.run_if_due(roller, NOW)
    schedule.run_if_due(roller, NOW + timedelta(seconds=20))  # 14:06 closed 1:50 ago
    assert roller.rolled == []
    schedule.run_if_due(roller, at("14:08"))  # 14:06 closed two minutes ago

    assert roller.rolled == [("1m", "raw", at("14:05"), at("14:06"))]


def test_a_failed_rollup_is_logged_and_tried_again_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    marks = {"1m": at("14:00"), "5m": at("13:00"), "30m": at("13:00"), "1h": at("13:00"),
             "6h": at("06:00")}  # fmt: skip
    roller = MemoryRoller(marks, fails=True)
    schedule = RollupSchedule(TIERS)

    schedule.run_if_due(roller, NOW)  # raises nothing
    roller.fails = False
    schedule.run_if_due(roller, NOW + RETRY / 2)
    assert roller.rolled == []
    schedule.run_if_due(roller, NOW + RETRY)

    assert "rolling the tiers up failed" in caplog.text
    assert {name for name, *_ in roller.rolled} == {"1m", "5m", "30m", "1h", "6h"}
