"""Replay: dead-lettered messages back to their queue, archived batches back to aggregation.

Both are exact because storing is: a batch already in the tiers is a duplicate (its
``(agent, seq, first sample)`` claim exists) and changes nothing, so replaying anything any
number of times leaves the tiers as one delivery did.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from hostpulse.core.contract import Batch
from hostpulse.core.envelope import Envelope, EnvelopeError, envelope_for
from hostpulse.services.replay.ports import (
    ArchiveReader,
    Checkpoint,
    DeadLetters,
    Destination,
    HeldMessage,
    Progress,
)

log = logging.getLogger(__name__)
# The archive's layout, version 1 (docs/architecture.md): batches/YYYY/MM/DD/HH/<digest>.jsonl.gz,
# gzip JSON lines, one wire-contract batch per line, hour of the group's first sample.
ARCHIVE_PREFIX = "batches/"
RECEIVE_BATCH = 10
EMPTY_RECEIVES_TO_STOP = 2


@dataclass(frozen=True)
class Selection:
    """Which batches to replay; everything when nothing is given."""

    agent: str | None = None
    host: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    @property
    def everything(self) -> bool:
        return self == Selection()

    def matches(self, batch: Batch) -> bool:
        first_ms = min(s.ts_ms for s in batch.samples)
        return (
            (self.agent is None or batch.agent_id == self.agent)
            and (self.host is None or batch.host.hostname == self.host)
            and (self.since_ms is None or first_ms >= self.since_ms)
            and (self.until_ms is None or first_ms < self.until_ms)
        )

    def describe(self) -> str:
        parts = [
            f"agent={self.agent}" if self.agent else "",
            f"host={self.host}" if self.host else "",
            f"since={iso(self.since_ms)}" if self.since_ms is not None else "",
            f"until={iso(self.until_ms)}" if self.until_ms is not None else "",
        ]
        return " ".join(p for p in parts if p) or "everything"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


@dataclass
class ReplayReport:
    examined: int = 0  # messages or archived batches looked at
    sent: int = 0  # (in a dry run: would be sent)
    skipped: int = 0  # not selected, left where they were
    unreadable: int = 0  # not a hostpulse batch
    failed: int = 0  # could not be sent; left where they were
    bytes: int = 0
    interrupted: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed and not self.interrupted


class Pacer:
    """At most ``rate`` sends per second (none when ``rate`` is None)."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at: float | None = None

    def wait(self) -> None:
        if not self.interval:
            return
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


@dataclass
class Sender:
    """Sends to the destination at the pacer's rate and counts what went and what did not."""

    destination: Destination
    archive: ArchiveReader
    pacer: Pacer
    report: ReplayReport

    def send(self, body: str, size: int, what: str) -> bool:
        self.pacer.wait()
        try:
            self.destination.send(body)
        except Exception as error:  # the queue's own errors: counted, reported, left in place
            self.report.failed += 1
            self.report.problems.append(f"{what}: {error}")
            return False
        self.report.sent += 1
        self.report.bytes += size
        return True

    def move(self, message: HeldMessage, dead_letters: DeadLetters) -> bool:
        """Sent and deleted; False when the queue refused (the message stays held)."""
        if not self.send(message.body, len(message.body), "a dead-lettered message"):
            return False
        dead_letters.delete(message.receipt)
        return True

    def send_line(self, line: bytes, batch: Batch) -> None:
        what = f"batch {batch.agent_id}:{batch.seq}"
        first_ms = min(s.ts_ms for s in batch.samples)
        try:
            envelope = envelope_for(
                line, batch.agent_id, batch.seq, first_ms, self.archive.put, archived=True
            )
        except Exception as error:  # the archive's own errors, for a batch too big to inline
            self.report.failed += 1
            self.report.problems.append(f"{what}: {error}")
            return
        self.send(envelope.encode(), len(line), what)


class QuietProgress:
    def start(self, items: int | None, size: int | None) -> None: ...

    def advance(self, items: int, size: int) -> None: ...

    def finish(self) -> None: ...


def _batch_of(body: str, archive: ArchiveReader) -> Batch | None:
    try:
        envelope = Envelope.decode(body)
        payload = (
            envelope.inline
            if envelope.inline is not None
            else gzip.decompress(archive.get(str(envelope.archive_key)))
        )
        return Batch.model_validate_json(payload)
    except (EnvelopeError, ValidationError, OSError, KeyError):
        return None


def replay_dead_letters(  # noqa: PLR0913 -- what to move, where, and how
    dead_letters: DeadLetters,
    destination: Destination,
    archive: ArchiveReader,
    selection: Selection,
    *,
    dry_run: bool = False,
    pacer: Pacer | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    """Moves the selected dead-lettered messages back to their queue (send, then delete: a
    crash in between leaves a duplicate, which storing ignores). Messages left out, and all of
    them in a dry run, are held until the end so that each is looked at once, then released.
    Unreadable messages move only when everything is selected (the operator fixed the cause)."""
    report, progress = ReplayReport(), progress or QuietProgress()
    sender = Sender(destination, archive, pacer or Pacer(None), report)
    held: list[str] = []
    progress.start(dead_letters.depth(), None)
    try:
        empty = 0
        while empty < EMPTY_RECEIVES_TO_STOP:
            messages = dead_letters.receive(RECEIVE_BATCH)
            empty = 0 if messages else empty + 1
            for message in messages:
                report.examined += 1
                batch = _batch_of(message.body, archive)
                if batch is None:
                    report.unreadable += 1
                chosen = selection.matches(batch) if batch is not None else selection.everything
                if not chosen or dry_run:
                    held.append(message.receipt)
                    report.sent += int(chosen)
                    report.bytes += len(message.body) if chosen else 0
                    report.skipped += int(not chosen)
                elif not sender.move(message, dead_letters):
                    held.append(message.receipt)
                progress.advance(1, len(message.body))
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        for receipt in held:
            dead_letters.release(receipt)
        progress.finish()
    return report


def archive_prefixes(since_ms: int, until_ms: int) -> list[str]:
    """The hour folders that can hold batches whose first sample is in [since, until): one hour
    more before, since a group is filed under the earliest first sample among its batches."""
    start = datetime.fromtimestamp(since_ms / 1000, tz=UTC).replace(
        minute=0, second=0, microsecond=0
    ) - timedelta(hours=1)
    end = datetime.fromtimestamp(until_ms / 1000, tz=UTC)
    prefixes, hour = [], start
    while hour <= end:
        prefixes.append(f"{ARCHIVE_PREFIX}{hour:%Y/%m/%d/%H}/")
        hour += timedelta(hours=1)
    return prefixes


def _archived_lines(archive: ArchiveReader, key: str) -> Iterator[bytes]:
    yield from (line for line in gzip.decompress(archive.get(key)).splitlines() if line.strip())


def replay_archive(  # noqa: PLR0913 -- what to send, where, and how
    archive: ArchiveReader,
    destination: Destination,
    selection: Selection,
    checkpoint: Checkpoint,
    *,
    dry_run: bool = False,
    pacer: Pacer | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    """Sends the selected archived batches to aggregation again, object by object in key
    order; after each object the checkpoint records it, so a run stopped by Ctrl-C or a crash
    goes on from there (what it sent twice is a duplicate)."""
    if selection.since_ms is None or selection.until_ms is None:
        raise ValueError("an archive replay needs a time range (since and until)")
    report, progress = ReplayReport(), progress or QuietProgress()
    sender = Sender(destination, archive, pacer or Pacer(None), report)
    objects = [
        (key, size)
        for prefix in archive_prefixes(selection.since_ms, selection.until_ms)
        for key, size in archive.keys(prefix)
    ]
    done = None if dry_run else checkpoint.load()
    remaining = [(key, size) for key, size in objects if done is None or key > done]
    progress.start(len(remaining), sum(size for _, size in remaining))
    try:
        for key, size in remaining:
            for line in _archived_lines(archive, key):
                report.examined += 1
                try:
                    batch = Batch.model_validate_json(line)
                except ValidationError:
                    report.unreadable += 1
                    continue
                if not selection.matches(batch):
                    report.skipped += 1
                elif dry_run:
                    report.sent += 1
                    report.bytes += len(line)
                else:
                    sender.send_line(line, batch)
            if report.failed:
                break  # resume from this object once the queue takes batches again
            if not dry_run:
                checkpoint.save(key)
            progress.advance(1, size)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        progress.finish()
    if report.complete and not dry_run:
        checkpoint.clear()
    return report
