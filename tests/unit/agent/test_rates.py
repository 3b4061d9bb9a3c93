from __future__ import annotations

import pytest

from hostpulse_agent.rates import WRAP_32, Rates, counter_delta


def test_the_first_reading_has_no_rate_and_the_second_does() -> None:
    rates = Rates()

    assert rates.rate("eth0", 1000, now=10.0) is None
    assert rates.rate("eth0", 3000, now=12.0) == 1000.0


@pytest.mark.parametrize(
    ("previous", "current", "delta"),
    [
        (100, 250, 150),  # counting up
        (WRAP_32 - 100, 50, 150),  # a 32-bit counter wrapped
        (5_000_000, 1_000, 1_000),  # reset (reboot, device back): counts since zero
        (2**40, 10, 10),  # a 64-bit counter does not wrap in a host's lifetime: a reset
    ],
)
def test_wraps_and_resets(previous: int, current: int, delta: int) -> None:
    assert counter_delta(previous, current) == delta


def test_no_rate_without_elapsed_time_and_gone_counters_are_forgotten() -> None:
    rates = Rates()
    rates.rate("a", 1, now=1.0)
    rates.rate("b", 1, now=1.0)

    assert rates.rate("a", 2, now=1.0) is None
    rates.retain(lambda key: key == "a")
    assert rates.rate("b", 5, now=2.0) is None  # "b" starts over
