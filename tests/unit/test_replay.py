"""Replay with in-memory queues and archive: what is selected moves once, the rest stays."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

import pytest

from hostpulse.core.contract import Batch
from hostpulse.core.envelope import Envelope, group_archive_key
from hostpulse.services.replay.ports import HeldMessage
from hostpulse.services.replay.service import (
    Pacer,
    Selection,
    archive_prefixes,
    replay_archive,
    replay_dead_letters,
)
from hostpulse.simulation.host import SyntheticHost
from tests.fakes import MemoryArchive

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
HOUR = 3_600_000


def batch_of(host: str, ts_ms: int) -> Batch:
    return SyntheticHost(host).batch([ts_ms])


def inline(batch: Batch) -> str:
    return Envelope(inline=batch.model_dump_json().encode()).encode()


@dataclass
class MemoryDeadLetters:
    messages: dict[str, str] = field(default_factory=dict)  # receipt -> body, in order
    hidden: set[str] = field(default_factory=set)
    released: list[str] = field(default_factory=list)
    interrupt_after: int | None = None
    received: int = 0

    def receive(self, max_messages: int) -> list[HeldMessage]:
        visible = [r for r in self.messages if r not in self.hidden][:max_messages]
        if self.interrupt_after is not None and self.received >= self.interrupt_after:
            raise KeyboardInterrupt
        self.received += len(visible)
        self.hidden.update(visible)
        return [HeldMessage(r, self.messages[r]) for r in visible]

    def delete(self, receipt: str) -> None:
        del self.messages[receipt]
        self.hidden.discard(receipt)

    def release(self, receipt: str) -> None:
        self.released.append(receipt)
        self.hidden.discard(receipt)

    def depth(self) -> int:
        return len(self.messages)


@dataclass
class MemoryQueue:
    bodies: list[str] = field(default_factory=list)
    down: bool = False

    def send(self, body: str) -> None:
        if self.down:
            raise ConnectionError("queue unreachable")
        self.bodies.append(body)


@dataclass
class MemoryCheckpoint:
    key: str | None = None
    saves: list[str] = field(default_factory=list)

    def load(self) -> str | None:
        return self.key

    def save(self, key: str) -> None:
        self.key = key
        self.saves.append(key)

    def clear(self) -> None:
        self.key = None


def dead_letters_with(*bodies: str) -> MemoryDeadLetters:
    return MemoryDeadLetters({f"r{i}": body for i, body in enumerate(bodies)})


def test_everything_moves_back_once_poison_included() -> None:
    good = inline(batch_of("web-1", T0))
    dlq, queue = dead_letters_with(good, "not an envelope"), MemoryQueue()

    report = replay_dead_letters(dlq, queue, MemoryArchive(), Selection())

    assert queue.bodies == [good, "not an envelope"]
    assert dlq.messages == {}
    assert (report.sent, report.unreadable, report.complete) == (2, 1, True)


def test_a_selection_moves_only_its_batches_and_leaves_the_rest_visible() -> None:
    web, db = inline(batch_of("web-1", T0)), inline(batch_of("db-1", T0))
    dlq, queue = dead_letters_with(web, db, "poison"), MemoryQueue()

    report = replay_dead_letters(dlq, queue, MemoryArchive(), Selection(host="db-1"))

    assert queue.bodies == [db]
    assert list(dlq.messages.values()) == [web, "poison"]
    assert dlq.hidden == set()  # released, for the next replay or for a person to look at
    assert (report.sent, report.skipped, report.examined) == (1, 2, 3)


def test_a_dry_run_sends_nothing_and_counts_what_would_go() -> None:
    bodies = [inline(batch_of(f"web-{i}", T0)) for i in range(3)]
    dlq, queue = dead_letters_with(*bodies), MemoryQueue()

    report = replay_dead_letters(dlq, queue, MemoryArchive(), Selection(), dry_run=True)

    assert queue.bodies == [] and len(dlq.messages) == 3 and dlq.hidden == set()
    assert report.sent == 3 and report.bytes == sum(len(b) for b in bodies)


def test_a_queue_that_refuses_leaves_the_message_in_the_dead_letter_queue() -> None:
    dlq, queue = dead_letters_with(inline(batch_of("web-1", T0))), MemoryQueue(down=True)

    report = replay_dead_letters(dlq, queue, MemoryArchive(), Selection())

    assert len(dlq.messages) == 1 and dlq.hidden == set()
    assert report.failed == 1 and not report.complete
    assert "queue unreachable" in report.problems[0]


def test_ctrl_c_releases_what_was_held() -> None:
    bodies = [inline(batch_of(f"web-{i}", T0)) for i in range(15)]
    dlq, queue = dead_letters_with(*bodies), MemoryQueue()
    dlq.interrupt_after = 10

    report = replay_dead_letters(dlq, queue, MemoryArchive(), Selection(host="none"))

    assert report.interrupted and not report.complete
    assert dlq.hidden == set() and len(dlq.messages) == 15


def archive_with(*groups: list[Batch]) -> MemoryArchive:
    archive = MemoryArchive()
    for group in groups:
        key = group_archive_key(
            [(b.agent_id, b.seq, min(s.ts_ms for s in b.samples)) for b in group]
        )
        lines = b"".join(b.model_dump_json().encode() + b"\n" for b in group)
        archive.objects[key] = gzip.compress(lines)
    return archive


def test_the_archive_sends_the_selected_range_in_key_order() -> None:
    early, inside, late = batch_of("a", T0 - 2 * HOUR), batch_of("b", T0), batch_of("c", T0 + HOUR)
    archive, queue = archive_with([early], [inside], [late]), MemoryQueue()

    report = replay_archive(
        archive, queue, Selection(since_ms=T0 - 60_000, until_ms=T0 + 60_000), MemoryCheckpoint()
    )

    sent = [Batch.model_validate_json(Envelope.decode(b).inline or b"") for b in queue.bodies]
    assert [b.host.hostname for b in sent] == ["b"]
    assert report.sent == 1 and report.complete
    assert all(Envelope.decode(b).archived for b in queue.bodies), "not archived once more"


def test_an_interrupted_archive_replay_resumes_after_its_checkpoint() -> None:
    batches = [batch_of(f"h{i}", T0 + i * 60_000) for i in range(4)]
    archive = archive_with(*[[b] for b in batches])
    selection = Selection(since_ms=T0, until_ms=T0 + HOUR)
    checkpoint, queue = MemoryCheckpoint(), MemoryQueue()

    first_key = sorted(archive.objects)[0]
    checkpoint.key = first_key  # an earlier run got through the first object
    report = replay_archive(archive, queue, selection, checkpoint)

    assert report.sent == 3
    assert checkpoint.saves == sorted(archive.objects)[1:]
    assert checkpoint.key is None  # complete: the next replay starts from the beginning


def test_a_failed_send_stops_at_that_object_so_a_rerun_starts_there() -> None:
    archive = archive_with([batch_of("h1", T0)], [batch_of("h2", T0 + 60_000)])
    checkpoint = MemoryCheckpoint()

    report = replay_archive(
        archive, MemoryQueue(down=True), Selection(since_ms=T0, until_ms=T0 + HOUR), checkpoint
    )

    assert report.failed == 1 and checkpoint.saves == [] and not report.complete


def test_a_batch_too_big_for_a_message_goes_as_a_claim_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hostpulse.core.envelope.MAX_INLINE_BYTES", 1_000)
    big = SyntheticHost("big").batch([T0 + i * 1000 for i in range(20)])
    archive, queue = archive_with([big]), MemoryQueue()

    replay_archive(archive, queue, Selection(since_ms=T0, until_ms=T0 + HOUR), MemoryCheckpoint())

    envelope = Envelope.decode(queue.bodies[0])
    assert envelope.archive_key is not None
    assert Batch.model_validate_json(gzip.decompress(archive.get(envelope.archive_key))) == big


def test_an_archive_replay_needs_a_time_range() -> None:
    with pytest.raises(ValueError, match="time range"):
        replay_archive(MemoryArchive(), MemoryQueue(), Selection(host="x"), MemoryCheckpoint())


def test_prefixes_cover_the_hour_before_for_groups_filed_early() -> None:
    assert archive_prefixes(T0, T0 + 1) == ["batches/2023/11/14/21/", "batches/2023/11/14/22/"]


def test_the_pacer_spaces_sends() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()

    assert slept == [0.25, 0.25, 0.25, 0.25]
