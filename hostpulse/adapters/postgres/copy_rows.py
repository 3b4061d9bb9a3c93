"""Rows in COPY's formats, streamed to PostgreSQL as they are made.

A write's rows are made in Python and read by PostgreSQL; fed to ``COPY`` a chunk at a time,
PostgreSQL reads the first chunks on one core while Python makes the rest on the other, where
a whole input built first made the two wait for each other. Raw rows go in COPY's binary
format: their arrays of a thousand numbers are packed by ``struct`` and copied as they are,
where text made Python write every double's digits and PostgreSQL parse them again
(docs/benchmarks.md, the aggregate path). Process rows, JSON documents, stay text.
"""

from __future__ import annotations

import io
import re
import struct
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
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


# COPY's binary format: a signature, flags and header extension, then rows, then -1 fields.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
BINARY_TRAILER = struct.pack(">h", -1)
# A COPY input's frame: what comes before its rows and after them.
Frame = tuple[str, str] | tuple[bytes, bytes]
TEXT: Frame = ("", "")
BINARY: Frame = (BINARY_HEADER, BINARY_TRAILER)
INT4, FLOAT8 = 23, 701  # the element types' OIDs
EPOCH_2000_US = 946_684_800_000_000  # a binary timestamp counts microseconds from 2000
RAW_FIELDS = 4  # RAW_COLUMNS


@lru_cache(maxsize=64)  # a layout per size of row: a fleet's hosts send a few sizes each
def _array_of(count: int, element: str) -> struct.Struct:
    """A one-dimensional array field without NULLs: its length, its header (dimensions, no
    NULLs, element type, size, lower bound), each element's length and value."""
    return struct.Struct(">iiiiii" + ("i" + element) * count)


def _array(values: Sequence[float] | Sequence[int], element: str, oid: int, size: int) -> bytes:
    pairs: list[Any] = [size] * (2 * len(values))
    pairs[1::2] = values
    layout = _array_of(len(values), element)
    return layout.pack(layout.size - 4, 1, 0, oid, len(values), 1, *pairs)


def series_array(host: str, metrics: Sequence[str], ids: Mapping[tuple[str, str], int]) -> bytes:
    """A raw row's ``series_ids`` field: the series of ``metrics`` of ``host``, in order."""
    return _array([ids[(host, metric)] for metric in metrics], "i", INT4, 4)


def raw_row(host: str, ts_ms: int, series: bytes, values: Sequence[float]) -> bytes:
    """A ``samples_raw`` row (``RAW_COLUMNS``) in COPY's binary format: one per sample, its
    values' series (see ``series_array``) and values as two arrays in one order. PostgreSQL
    text holds no NUL, which COPY's text format replaced too."""
    name = (host.replace("\x00", "\ufffd") if "\x00" in host else host).encode()
    return b"".join(
        (
            struct.pack(">hi", RAW_FIELDS, len(name)),
            name,
            struct.pack(">iq", 8, ts_ms * 1000 - EPOCH_2000_US),
            series,
            _array(values, "d", FLOAT8, 8),
        )
    )


class StreamedLines:
    """COPY's input read from rows as they are made, within its ``frame`` (``TEXT`` or
    ``BINARY``); every row made is kept, for a write that must stage them instead
    (``copied``)."""

    def __init__(self, lines: Iterable[Any], frame: Frame = TEXT) -> None:
        self._lines: Iterator[Any] = iter(lines)
        self._head: Any = frame[0]
        self._tail: Any = frame[1]
        self._empty: Any = self._head[:0]  # "" or b""
        self._done = False
        self.made: list[Any] = []

    def read(self, size: int = -1) -> Any:
        if self._done:
            return self._empty
        rows: list[Any] = []
        chars = 0
        for line in self._lines:
            rows.append(line)
            chars += len(line)
            if 0 < size <= chars:
                break
        else:
            self._done = True
        self.made += rows
        head, self._head = self._head, self._empty
        return head + self._empty.join(rows) + (self._tail if self._done else self._empty)

    def all(self) -> list[Any]:
        """Every row, made or not yet."""
        self.made += self._lines
        return self.made


def copied(cur: Any, statement: str, lines: Iterable[Any], frame: Frame = TEXT) -> list[Any] | None:
    """COPY straight into a table: None once written; with a row there already (a sample
    sent again in another batch), nothing is written and every row comes back, for the
    caller to stage instead."""
    stream = StreamedLines(lines, frame)
    cur.execute(sql.COPY_SAVEPOINT)  # released with the transaction: one round trip less
    try:
        cur.copy_expert(statement, stream, size=CHUNK_CHARS)
    except psycopg2.errors.UniqueViolation:
        cur.execute(sql.COPY_UNDONE)
        return stream.all()
    return None


def copy_lines(cur: Any, statement: str, lines: Sequence[Any], frame: Frame = TEXT) -> None:
    head: Any = frame[0]
    whole = head + head[:0].join(lines) + frame[1]
    cur.copy_expert(
        statement, io.BytesIO(whole) if isinstance(whole, bytes) else io.StringIO(whole)
    )
