from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hostpulse_agent.spool import Spool

WRITER = """
import sys
from pathlib import Path
from hostpulse_agent.spool import Spool
spool = Spool(Path(sys.argv[1]), max_bytes=1 << 30, segment_bytes=64 * 1024)
start = int(sys.argv[2])
for n in range(start, start + 100000):
    spool.append(f"record-{n:08d}-".encode() * 40)
    print(n, flush=True)
"""


def payload_number(payload: bytes) -> int:
    return int(payload.split(b"-")[1])


def drain(spool: Spool) -> list[int]:
    seen = []
    while (entry := spool.oldest()) is not None:
        record, payload = entry
        unit = f"record-{payload_number(payload):08d}-".encode()
        assert payload == unit * (len(payload) // len(unit)), "an intact record, never a torn one"
        seen.append(payload_number(payload))
        spool.ack(record)
    return seen


def test_kill_minus_nine_mid_write_loses_nothing_written_and_sends_no_torn_record(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "spool"
    confirmed: set[int] = set()  # appends that returned: fsynced, promised to the caller
    acknowledged: list[int] = []
    next_number = 0
    for round_number in range(6):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), str(next_number)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": "agent"},
        )  # fmt: skip
        assert writer.stdout is not None
        time.sleep(random.uniform(0.3, 0.6))
        os.kill(writer.pid, signal.SIGKILL)  # anywhere, including in the middle of a record
        writer.wait()
        written = [int(line) for line in writer.stdout.read().split()]
        confirmed.update(written)
        next_number = (written[-1] if written else next_number) + 2
        if round_number % 2:  # the backlog is sent between some crashes, not others
            spool = Spool(directory, max_bytes=1 << 30, segment_bytes=64 * 1024)
            acknowledged += drain(spool)
            spool.close()

    acknowledged += drain(Spool(directory, max_bytes=1 << 30, segment_bytes=64 * 1024))

    assert len(confirmed) > 100
    assert confirmed <= set(acknowledged), "every append that returned is delivered"
    assert acknowledged == sorted(set(acknowledged)), "nothing twice, nothing out of order"


def test_the_spool_is_bounded_and_drops_the_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 * 1024, segment_bytes=16 * 1024)
    for n in range(400):
        spool.append(f"record-{n:08d}-".encode() * 20)

    kept = drain(spool)

    assert spool.dropped > 0
    assert len(kept) + spool.dropped == 400
    assert kept == list(range(400 - len(kept), 400))
    assert sum(p.stat().st_size for p in tmp_path.glob("*.seg")) <= 64 * 1024 + 16 * 1024


def test_newest_first_acks_survive_a_restart_and_are_not_sent_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1024)
    for n in range(20):
        spool.append(f"record-{n:08d}-".encode())
    newest = spool.newest()
    assert newest is not None
    spool.ack(newest[0])
    oldest = spool.oldest()
    assert oldest is not None
    spool.ack(oldest[0])
    spool.close()

    reopened = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1024)

    assert drain(reopened) == list(range(1, 19))
    reopened.close()
    assert drain(Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1024)) == []


class FullDisk:
    """A file handle whose disk fills up after ``room`` more bytes."""

    def __init__(self, handle: Any, room: int) -> None:
        self.handle, self.room = handle, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            written = self.handle.write(data[: self.room])
            self.handle.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, f"No space left on device ({written} bytes written)")
        self.room -= len(data)
        return int(self.handle.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)


def test_a_full_disk_loses_only_the_batch_being_written_never_the_ones_after(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    spool.append(b"first" * 100)
    spool._handle = FullDisk(spool._handle, room=200)  # type: ignore[assignment]

    with pytest.raises(OSError, match="No space left"):
        spool.append(b"torn" * 100)  # cut off at 200 bytes, as a full disk does
    spool.append(b"after" * 100)  # space freed again

    reopened = Spool(tmp_path / "spool", max_bytes=1 << 20)
    payloads = []
    while (entry := reopened.oldest()) is not None:
        payloads.append(entry[1])
        reopened.ack(entry[0])
    assert payloads == [b"first" * 100, b"after" * 100]


def test_a_drained_spool_gives_its_disk_space_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for n in range(3):
        spool.append(f"record-{n:08d}-".encode() * 50)
    assert sum(p.stat().st_size for p in tmp_path.glob("*.seg")) > 0

    drain(spool)

    # Before: the segment being written kept every accepted record until it was 4 MiB, so a
    # spool that had filled the disk could never write again.
    assert sum(p.stat().st_size for p in tmp_path.glob("*.seg")) == 0
    spool.append(b"record-00000009-" * 5)
    assert drain(Spool(tmp_path, max_bytes=1 << 20)) == [9]


def test_an_acknowledgement_on_a_full_disk_holds_and_frees_the_space(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    first = spool.append(b"record-00000001-" * 50)
    spool.append(b"record-00000002-" * 50)
    real_save = spool._save_cursor
    calls = []

    def full() -> None:
        calls.append(1)
        raise OSError(errno.ENOSPC, "No space left on device")

    spool._save_cursor = full  # type: ignore[method-assign]
    spool.ack(first)  # before: raised, and the agent's sending thread died with it
    spool._save_cursor = real_save  # type: ignore[method-assign]

    assert spool.pending == 1 and calls
    assert drain(spool) == [2]
    assert sum(p.stat().st_size for p in tmp_path.glob("*.seg")) == 0
