"""Rows in COPY's text format, streamed to PostgreSQL as they are made.

A write's rows are formatted in Python and parsed by PostgreSQL; fed to ``COPY`` a chunk at a
time, PostgreSQL parses the first chunks on one core while Python formats the rest on the
other, where a whole text built first made the two wait for each other.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg2.errors

from hostpulse.adapters.postgres import metrics_sql as sql
from hostpulse.adapters.postgres.process_documents import processes_document
from hostpulse.core.contract import Process

COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\ufffd"}
)

# Most text needs no escaping; looking for what does is three times faster than translating.
NEEDS_ESCAPE = re.compile(r"[\\\t\n\r\x00]")
# What COPY reads per chunk: big enough that a chunk is not a round trip of its own, small
# enough that PostgreSQL starts on the first rows early.
CHUNK_CHARS = 32_768


def copy_text(value: str) -> str:
    """Text in COPY's text format: untrusted text cannot break out of its column."""
    return value.translate(COPY_ESCAPES) if NEEDS_ESCAPE.search(value) else value


def copy_timestamp(ts_ms: int) -> str:
    """A ``timestamptz`` in COPY's text format, exact to the millisecond."""
    seconds, millis = divmod(ts_ms, 1000)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))}.{millis:03d}+00"


def processes_line(host: str, stamp: str, processes: Sequence[Process]) -> str:
    """A ``processes_raw`` row (``PROCESS_COLUMNS``): a sample's processes as one document."""
    return f"{host}\t{stamp}\t{copy_text(processes_document(processes))}\n"


def series_array(host: str, metrics: Sequence[str], ids: Mapping[tuple[str, str], int]) -> str:
    """A raw row's ``series_ids`` array: the series of ``metrics`` of ``host``, in order."""
    return "{" + ",".join(str(ids[(host, metric)]) for metric in metrics) + "}"


def raw_line(host: str, ts_ms: int, series: str, values: Sequence[float]) -> str:
    """A ``samples_raw`` row (``RAW_COLUMNS``): one per sample, its values' series (see
    ``series_array``) and values as two arrays in one order. Numbers need no quoting in an
    array; the values are finite (the contract's bounds)."""
    numbers = ",".join(map(repr, values))
    return f"{copy_text(host)}\t{copy_timestamp(ts_ms)}\t{series}\t{{{numbers}}}\n"


class StreamedLines:
    """COPY's input read from lines as they are made; every line made is kept, for a write
    that must stage them instead (``copied``)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines: Iterator[str] = iter(lines)
        self.made: list[str] = []

    def read(self, size: int = -1) -> str:
        chunk: list[str] = []
        chars = 0
        for line in self._lines:
            chunk.append(line)
            chars += len(line)
            if 0 < size <= chars:
                break
        self.made += chunk
        return "".join(chunk)

    def all(self) -> list[str]:
        """Every line, made or not yet."""
        self.made += self._lines
        return self.made


def copied(cur: Any, statement: str, lines: Iterable[str]) -> list[str] | None:
    """COPY straight into a table: None once written; with a row there already (a sample
    sent again in another batch), nothing is written and every line comes back, for the
    caller to stage instead."""
    stream = StreamedLines(lines)
    cur.execute(sql.COPY_SAVEPOINT)  # released with the transaction: one round trip less
    try:
        cur.copy_expert(statement, stream, size=CHUNK_CHARS)
    except psycopg2.errors.UniqueViolation:
        cur.execute(sql.COPY_UNDONE)
        return stream.all()
    return None


def copy_lines(cur: Any, statement: str, lines: Sequence[str]) -> None:
    cur.copy_expert(statement, io.StringIO("".join(lines)))
