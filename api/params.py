"""Query parameters: times as epoch (s or ms), ISO 8601, 'now' or relative ('-1h', '-15m')."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException

from hostpulse.core.contract import HostName

RELATIVE = re.compile(r"^now(?:-(\d{1,12})([smhdw]))?$|^-(\d{1,12})([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Times a query may name: Unix time to the end of year 9999 (what datetime and the
# database both hold). A step longer than ten years has nothing to show.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
MAX_STEP_S = 10 * 365 * 86400
# A host as a query names it: found whatever its case (hosts are kept in their one spelling),
# and only a name the contract lets a host have (anything else, a NUL byte say, is a 422 here,
# never a query the database refuses).
HostRef = HostName


def parse_time(value: str, now: datetime, name: str) -> datetime:
    try:
        parsed = _parse_time(value.strip(), now, name)
    except (OverflowError, ValueError, OSError):
        parsed = None
    if parsed is None or not EARLIEST <= parsed <= LATEST:
        raise HTTPException(400, f"'{name}' is outside 1970-01-01 .. 9999-12-31; got {value!r}")
    return parsed


def _parse_time(text: str, now: datetime, name: str) -> datetime | None:
    match = RELATIVE.match(text)
    if match:
        amount = match.group(1) or match.group(3)
        unit = match.group(2) or match.group(4)
        return now - timedelta(seconds=int(amount) * UNITS[unit]) if amount else now
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise HTTPException(
                400,
                f"'{name}' must be epoch seconds or milliseconds, ISO 8601, 'now' or like "
                f"'-1h'; got {text!r}",
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if not math.isfinite(number):
        return None
    seconds = number / 1000 if number > 1e11 else number
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_step(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.match(r"^(\d{1,12})([smhdw]?)$", value.strip())
    seconds = int(match.group(1)) * UNITS[match.group(2) or "s"] if match else 0
    if not 0 < seconds <= MAX_STEP_S:
        raise HTTPException(
            400,
            f"'step' must be a positive duration up to ten years like 60, 30s, 5m or 1h; "
            f"got {value!r}",
        )
    return seconds
