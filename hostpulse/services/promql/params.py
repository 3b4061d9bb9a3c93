"""Prometheus' HTTP API parameters as Prometheus reads them: times as Unix seconds (with a
fraction) or RFC 3339, durations as seconds or ``5m``-style, and its messages when they are
not."""

from __future__ import annotations

import math
import re
from datetime import datetime

from hostpulse.services.promql.model import PromQLError

# The times a query may name: what a step, a datetime and the database all hold.
MIN_MS = -62_135_596_800_000  # 0001-01-01
MAX_MS = 253_402_300_799_000  # 9999-12-31T23:59:59
DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def clamped(ms: int) -> int:
    """A time a query reaches (an offset or a range far back, an @ far ahead) within what a
    datetime and the database hold: no sample lies beyond, so the answer is the same."""
    return min(max(ms, MIN_MS), MAX_MS)


def invalid(name: str, message: str) -> PromQLError:
    return PromQLError(f'invalid parameter "{name}": {message}')


def parse_time(value: str, name: str) -> int:
    """A time in ms; a float is Unix seconds, rounded to the millisecond as Prometheus does."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise invalid(name, f"cannot parse {value!r} to a valid timestamp") from None
        if parsed.tzinfo is None:
            raise invalid(name, f"cannot parse {value!r} to a valid timestamp") from None
        ms = round(parsed.timestamp() * 1000)
    else:
        if not math.isfinite(seconds):
            raise invalid(name, f"cannot parse {value!r} to a valid timestamp")
        whole = math.trunc(seconds)
        ms = whole * 1000 + round((seconds - whole) * 1000)
    if not MIN_MS <= ms <= MAX_MS:
        raise invalid(name, f"{value!r} is outside the years 1 to 9999")
    return ms


def duration_ms(text: str) -> int | None:
    """Prometheus' duration (``1h30m``, ``0s``) in ms; None when it is not one."""
    found = DURATION.match(text)
    if not text or found is None:
        return None
    return sum(int(found.group(2 * i + 2) or 0) * unit for i, unit in enumerate(UNIT_MS))


def parse_duration(value: str, name: str) -> int:
    """A duration in ms: float seconds or Prometheus' duration (``1h30m``)."""
    try:
        seconds = float(value)
    except ValueError:
        found = duration_ms(value)
        if found is None:
            raise invalid(name, f"cannot parse {value!r} to a valid duration") from None
        ms = found
    else:
        if not math.isfinite(seconds) or abs(seconds) * 1e9 >= 2**63:
            raise invalid(name, f"cannot parse {value!r} to a valid duration. It overflows int64")
        ms = round(seconds * 1000)
    if ms > MAX_MS - MIN_MS:
        raise invalid(name, f"cannot parse {value!r} to a valid duration. It overflows int64")
    return ms
