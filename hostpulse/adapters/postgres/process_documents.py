"""A sample's processes as the processes table keeps them: one JSON array, a process an array
of its fields in ``PROCESS_FIELDS``' order (migration 0014; its ``process_rows`` view reads
them the same way, for anyone reading the table by hand).

orjson writes and reads them: writing a sample's processes so is five times as fast as
formatting a COPY row per process, and reading them back in Python is faster than having
PostgreSQL take every sample's JSON apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter, itemgetter
from typing import Any, cast

import orjson

from hostpulse.core.contract import Process
from hostpulse.core.responses import ProcessPoint, ProcessRow

PROCESS_FIELDS = (
    "pid",
    "name",
    "cmdline",
    "user",
    "cpu_percent",
    "rss_bytes",
    "threads",
    "read_bytes_per_s",
    "write_bytes_per_s",
    "read_bytes_total",
    "write_bytes_total",
    "open_files",
    "status",
)
process_fields = attrgetter(*PROCESS_FIELDS)
# What one process' history keeps of each sample (``ProcessPoint``), by position.
HISTORY_FIELDS = (
    "name",
    "cpu_percent",
    "rss_bytes",
    "threads",
    "read_bytes_per_s",
    "write_bytes_per_s",
    "open_files",
    "status",
)
history_fields = itemgetter(*(PROCESS_FIELDS.index(name) for name in HISTORY_FIELDS))
PID = PROCESS_FIELDS.index("pid")
CPU = PROCESS_FIELDS.index("cpu_percent")


def processes_document(processes: Sequence[Process]) -> str:
    """A sample's processes as stored: escapes and shortest exact numbers are orjson's."""
    document = orjson.dumps([process_fields(p) for p in processes]).decode()
    if "\\u0000" in document:
        # NUL, which the contract refuses, in a batch built past it: PostgreSQL's text cannot
        # hold it (``->>`` fails on it), so it becomes U+FFFD, as in every text column.
        document = orjson.dumps([without_nul(process_fields(p)) for p in processes]).decode()
    return document


def without_nul(fields: tuple[Any, ...]) -> list[Any]:
    return [f.replace("\x00", "\ufffd") if isinstance(f, str) else f for f in fields]


def processes_by_time(rows: Iterable[tuple[Any, str]]) -> dict[int, list[ProcessRow]]:
    """Stored samples (time in ms, processes) as each sample's processes, busiest first."""
    by_time: dict[int, list[ProcessRow]] = {}
    for ts, document in rows:
        stored = sorted(orjson.loads(document), key=itemgetter(CPU), reverse=True)
        by_time[int(ts)] = [
            cast(ProcessRow, dict(zip(PROCESS_FIELDS, fields, strict=True))) for fields in stored
        ]
    return by_time


def process_points(rows: Iterable[tuple[Any, str]], pid: int) -> list[ProcessPoint]:
    """One process' points from stored samples (time in ms, processes): one per sample that
    holds it."""
    points = []
    for ts, document in rows:
        for fields in orjson.loads(document):
            if fields[PID] == pid:
                point = dict(zip(HISTORY_FIELDS, history_fields(fields), strict=True))
                points.append(cast(ProcessPoint, {"ts_ms": int(ts), **point}))
                break
    return points
