"""Query parameters: times as epoch (s or ms), ISO 8601, 'now' or relative ('-1h', '-15m')."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException

RELATIVE = re.compile(r"^now(?:-(\d+)([smhdw]))?$|^-(\d+)([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str, now: datetime, name: str) -> datetime:
    text = value.strip()
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
                f"'-1h'; got {value!r}",
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    seconds = number / 1000 if number > 1e11 else number
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_step(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.match(r"^(\d+)([smhdw]?)$", value.strip())
    if not match or int(match.group(1)) == 0:
        raise HTTPException(
            400, f"'step' must be a positive duration like 60, 30s, 5m or 1h; got {value!r}"
        )
    return int(match.group(1)) * UNITS[match.group(2) or "s"]
