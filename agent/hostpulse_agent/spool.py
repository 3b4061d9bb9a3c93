"""A disk spool: every batch is written here before it is sent, and removed once accepted.

Segments (``<number>.seg``) hold records framed as ``magic | length | crc32 | payload``; they
are only ever appended to. A record cut short by a crash (or a ``kill -9``) fails its length or
checksum and is cut off when the spool opens, so a torn record is never sent. ``cursor.json``
(replaced atomically) remembers which records were accepted. The spool is bounded: when it
grows past ``max_bytes`` its oldest segment is dropped and the records lost are counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"HPS1"
HEADER = struct.Struct(">4sII")  # magic, payload length, crc32 of the payload
SEGMENT_BYTES = 4 * 1024 * 1024
MAX_RECORD = 64 * 1024 * 1024


@dataclass(frozen=True, order=True)
class RecordId:
    segment: int
    offset: int


def _fsync_dir(directory: Path) -> None:
    """Make a new file's name durable; Windows has no directory handles to sync."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> tuple[list[tuple[int, bytes]], int]:
    """The intact records of a segment (offset, payload) and where the intact part ends."""
    records = []
    data = path.read_bytes()
    offset = 0
    while offset + HEADER.size <= len(data):
        magic, length, crc = HEADER.unpack_from(data, offset)
        start, end = offset + HEADER.size, offset + HEADER.size + length
        if magic != MAGIC or length > MAX_RECORD or end > len(data):
            break
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            break
        records.append((offset, payload))
        offset = end
    return records, offset


class Spool:
    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max(max_bytes, 2 * segment_bytes)
        self.segment_bytes = segment_bytes
        self.dropped = 0  # records lost to the size bound
        self._lock = threading.Lock()
        self._pending: deque[RecordId] = deque()
        self._lengths: dict[RecordId, int] = {}
        self._acked: set[RecordId] = set()
        self._done = RecordId(-1, -1)  # every record up to here was accepted (or dropped)
        directory.mkdir(parents=True, exist_ok=True)
        self._recover()

    # -- opening ----------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:010d}.seg"

    def _recover(self) -> None:
        cursor = self._read_cursor()
        self._acked = {RecordId(*pair) for pair in cursor.get("acked", [])}
        self.dropped = int(cursor.get("dropped", 0))
        done = self._done = RecordId(*cursor.get("done", [-1, -1]))
        for segment in self._segments():
            path = self._path(segment)
            records, intact = read_records(path)
            if intact < path.stat().st_size:
                with path.open("r+b") as handle:  # cut the torn tail: never sent, never followed
                    handle.truncate(intact)
                    os.fsync(handle.fileno())
            for offset, payload in records:
                record = RecordId(segment, offset)
                if record <= done or record in self._acked:
                    continue
                self._pending.append(record)
                self._lengths[record] = len(payload)
        segments = self._segments()
        self._segment = segments[-1] if segments else 0
        self._handle = self._path(self._segment).open("ab")
        self._collect_garbage()

    def _read_cursor(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.directory / "cursor.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data

    # -- writing ----------------------------------------------------------------------------

    def append(self, payload: bytes) -> RecordId:
        """Writes and fsyncs one record. On a write error (a full disk) the partial record is
        cut off again, so that the records after it are never lost behind a torn one, and the
        error is raised: the caller counts the batch as lost."""
        with self._lock:
            if self._handle.tell() >= self.segment_bytes:
                self._rotate()
            record = RecordId(self._segment, self._handle.tell())
            try:
                self._handle.write(HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload)
                self._handle.flush()
                os.fsync(self._handle.fileno())
            except OSError:
                self._cut_back(record.offset)
                raise
            self._pending.append(record)
            self._lengths[record] = len(payload)
            self._enforce_bound()
            return record

    def _cut_back(self, offset: int) -> None:
        """Back to the end of the last whole record, with a fresh handle (the old one may hold
        bytes that never reached the disk)."""
        path = self._path(self._segment)
        with contextlib.suppress(OSError):  # its unwritten buffer is the torn record dropped
            self._handle.close()
        with path.open("r+b") as handle:
            handle.truncate(offset)
        self._handle = path.open("ab")

    def _rotate(self) -> None:
        handle = self._path(self._segment + 1).open("ab")  # first: a failure changes nothing
        self._handle.close()
        self._segment += 1
        self._handle = handle
        _fsync_dir(self.directory)

    def _enforce_bound(self) -> None:
        while self._disk_bytes() > self.max_bytes:
            oldest = self._segments()[0]
            if oldest == self._segment:
                return
            lost = [r for r in self._pending if r.segment == oldest]
            self.dropped += len(lost)
            for record in lost:
                self._pending.remove(record)
                self._lengths.pop(record, None)
            self._path(oldest).unlink()
            self._try_save_cursor()

    def _disk_bytes(self) -> int:
        return sum(self._path(s).stat().st_size for s in self._segments())

    # -- reading and acknowledging ----------------------------------------------------------

    def _read(self, record: RecordId) -> bytes:
        with self._path(record.segment).open("rb") as handle:
            handle.seek(record.offset + HEADER.size)
            return handle.read(self._lengths[record])

    def oldest(self) -> tuple[RecordId, bytes] | None:
        with self._lock:
            if not self._pending:
                return None
            record = self._pending[0]
            return record, self._read(record)

    def newest(self) -> tuple[RecordId, bytes] | None:
        with self._lock:
            if not self._pending:
                return None
            record = self._pending[-1]
            return record, self._read(record)

    def ack(self, record: RecordId) -> None:
        with self._lock:
            if record not in self._lengths:
                return
            self._pending.remove(record)
            del self._lengths[record]
            self._acked.add(record)
            saved = self._try_save_cursor()
            self._collect_garbage()
            if not saved:
                # The disk was full: the acknowledgement held in memory only (a crash now sends
                # the batch again, a duplicate the server skips). Collecting garbage may have
                # made room for it.
                self._try_save_cursor()

    def _try_save_cursor(self) -> bool:
        try:
            self._save_cursor()
        except OSError:
            return False
        return True

    def _save_cursor(self) -> None:
        first = self._pending[0] if self._pending else RecordId(self._segment, 1 << 62)
        self._done = max([self._done, *(r for r in self._acked if r < first)])
        self._acked = {r for r in self._acked if r > self._done}  # those acked out of order
        cursor = {
            "done": [self._done.segment, self._done.offset],
            "acked": sorted([r.segment, r.offset] for r in self._acked),
            "dropped": self.dropped,
        }
        temporary = self.directory / "cursor.json.tmp"
        with temporary.open("w") as handle:
            json.dump(cursor, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.directory / "cursor.json")

    def _collect_garbage(self) -> None:
        """Segments whose every record was accepted are deleted. The one being written is
        replaced by a fresh one once all of it was accepted: on a full disk that is the only
        room to free, and without it the spool could never take a batch again."""
        live = {r.segment for r in self._pending}
        for segment in self._segments():
            if segment != self._segment and segment not in live:
                self._path(segment).unlink()
        if self._segment not in live and self._handle.tell() > 0:
            drained = self._segment
            with contextlib.suppress(OSError):  # no inode left: it is tried again next time
                self._rotate()
                self._path(drained).unlink()

    # -- reporting --------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._disk_bytes()

    def close(self) -> None:
        with self._lock:
            self._handle.close()
