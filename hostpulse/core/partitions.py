"""Day partitions: how they are named and which day a name stands for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

SUFFIX = "_p"


def partition_name(table: str, day: date) -> str:
    return f"{table}{SUFFIX}{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    _, _, suffix = name.rpartition(SUFFIX)
    try:
        return datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None


def day_of_ms(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def first_kept_day(now: datetime, retention: timedelta) -> date:
    """The oldest day partition retention still keeps: it drops a day once the day's end is
    ``retention`` in the past."""
    return (now - retention).astimezone(UTC).date()


def oldest_kept_ms(now: datetime, retention: timedelta) -> int:
    """The start of ``first_kept_day``, in Unix milliseconds."""
    day = first_kept_day(now, retention)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def days_of_span(start: datetime, end: datetime) -> set[date]:
    """The UTC days [start, end) touches."""
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}
