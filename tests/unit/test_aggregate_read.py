from __future__ import annotations

import gzip
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from hostpulse.core.contract import Batch
from hostpulse.core.envelope import Envelope, read_batch
from hostpulse.services.aggregate.service import Claim, aggregate_records
from hostpulse.simulation.host import SyntheticHost
from tests.fakes import MemoryArchive


def a_batch(name: str = "web-1") -> Batch:
    return SyntheticHost(name).batch([1_700_000_000_000, 1_700_000_005_000])


def inline(batch: Batch) -> str:
    return Envelope(inline=batch.model_dump_json().encode()).encode()


@dataclass
class MemoryStore:
    """Rejects any group holding a batch from a 'bad' host, as a failing transaction would."""

    seen: set[tuple[str, int]] = field(default_factory=set)
    groups: list[int] = field(default_factory=list)

    def write_batches(self, batches: Sequence[Batch]) -> list[Claim]:
        self.groups.append(len(batches))
        if any(b.host.hostname.startswith("bad") for b in batches):
            raise RuntimeError("constraint violated")
        results = []
        for b in batches:
            new = (b.agent_id, b.seq) not in self.seen
            results.append(Claim.NEW if new else Claim.DUPLICATE)
            self.seen.add((b.agent_id, b.seq))
        return results


def test_inline_and_archived_batches_read_the_same() -> None:
    sent = a_batch()
    archive = MemoryArchive({"k": gzip.compress(sent.model_dump_json().encode())})

    assert (
        read_batch(inline(sent), archive).batch
        == read_batch(Envelope(archive_key="k").encode(), archive).batch
        == sent
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"v": 2, "gzip_b64": ""}',
        '{"v": 1}',
        '{"v": 1, "gzip_b64": "%%%"}',
        Envelope(inline=b'{"agent_id": "x"}').encode(),
    ],
)
def test_poison_messages_fail_alone(body: str) -> None:
    store = MemoryStore()

    outcome = aggregate_records(
        [("poison", body), ("good", inline(a_batch()))], store, MemoryArchive()
    )

    assert outcome.failed == ["poison"]
    assert (outcome.stored, store.groups) == (1, [1])


def test_a_group_is_one_write_and_duplicates_are_counted() -> None:
    store = MemoryStore()
    first, second = a_batch("web-1"), a_batch("web-2")

    outcome = aggregate_records(
        [("1", inline(first)), ("2", inline(second)), ("3", inline(first))],
        store,
        MemoryArchive(),
    )

    assert store.groups == [3]
    assert (outcome.stored, outcome.duplicates, outcome.failed) == (2, 1, [])


def test_a_failing_group_is_retried_one_by_one_and_only_the_bad_batch_fails() -> None:
    store = MemoryStore()

    outcome = aggregate_records(
        [
            ("a", inline(a_batch("web-1"))),
            ("b", inline(a_batch("bad-1"))),
            ("c", inline(a_batch("web-2"))),
        ],
        store,
        MemoryArchive(),
    )

    assert store.groups == [3, 1, 1, 1]
    assert outcome.failed == ["b"]
    assert outcome.stored == 2


def test_the_stored_batches_of_a_group_are_archived_together_under_a_stable_key() -> None:
    store, archive = MemoryStore(), MemoryArchive()
    first, second = a_batch("web-1"), a_batch("web-2")
    messages = [("1", inline(first)), ("2", inline(second))]

    aggregate_records(messages, store, archive)
    [(key, data)] = archive.objects.items()
    lines = gzip.decompress(data).decode().splitlines()
    assert [Batch.model_validate_json(line) for line in lines] == [first, second]

    store.seen.clear()  # the same group again, stored anew: the same object is written
    aggregate_records(list(reversed(messages)), store, archive)
    assert list(archive.objects) == [key]


def test_an_archive_failure_does_not_fail_the_messages() -> None:
    outcome = aggregate_records([("1", inline(a_batch()))], MemoryStore(), MemoryArchive(down=True))

    assert (outcome.failed, outcome.stored, outcome.archive_failed) == ([], 1, True)


def test_a_batch_sent_again_from_the_archive_is_stored_but_not_archived_twice() -> None:
    store, archive = MemoryStore(), MemoryArchive()
    replayed, fresh = a_batch("web-1"), a_batch("web-2")
    from_archive = Envelope(inline=replayed.model_dump_json().encode(), archived=True).encode()

    outcome = aggregate_records([("1", from_archive), ("2", inline(fresh))], store, archive)

    assert outcome.stored == 2
    [data] = archive.objects.values()
    lines = gzip.decompress(data).decode().splitlines()
    assert [Batch.model_validate_json(line) for line in lines] == [fresh]


def test_the_archived_mark_survives_the_wire_and_is_absent_by_default() -> None:
    payload = a_batch().model_dump_json().encode()

    assert Envelope.decode(Envelope(inline=payload, archived=True).encode()).archived
    assert Envelope.decode(Envelope(archive_key="k", archived=True).encode()).archived
    assert not Envelope.decode(Envelope(inline=payload).encode()).archived
    assert '"archived"' not in Envelope(inline=payload).encode()  # v1 messages unchanged


def test_a_batch_older_than_its_claims_are_kept_is_skipped_unless_replayed() -> None:
    store = MemoryStore()
    old, recent = a_batch("old-1"), a_batch("recent-1")
    replayed = Envelope(inline=old.model_dump_json().encode(), archived=True).encode()
    horizon = 1_700_000_000_001  # after the old batch's first sample

    late = aggregate_records([("1", inline(old))], store, MemoryArchive(), horizon)
    rebuilt = aggregate_records([("2", replayed)], store, MemoryArchive(), horizon)
    fresh = aggregate_records([("3", inline(recent))], store, MemoryArchive(), 1_600_000_000_000)

    assert (late.expired, late.stored, late.failed) == (1, 0, [])  # deleted, not retried
    assert (rebuilt.expired, rebuilt.stored) == (0, 1)
    assert (fresh.expired, fresh.stored) == (0, 1)


def test_the_archive_is_written_while_the_database_writes() -> None:
    """A store that finishes only once the archive object exists: written one after the
    other, this would wait out its bound and fail."""
    archive = MemoryArchive()

    class WaitsForTheArchive(MemoryStore):
        def write_batches(self, batches: Sequence[Batch]) -> list[Claim]:
            deadline = time.monotonic() + 5
            while not archive.objects and time.monotonic() < deadline:
                time.sleep(0.01)
            if not archive.objects:
                raise RuntimeError("the archive was not written meanwhile")
            return super().write_batches(batches)

    outcome = aggregate_records([("1", inline(a_batch()))], WaitsForTheArchive(), archive)

    assert (outcome.stored, outcome.failed, outcome.archive_failed) == (1, [], False)


def test_with_the_database_away_the_group_is_archived_and_handed_back() -> None:
    archive = MemoryArchive()

    outcome = aggregate_records([("1", inline(a_batch("bad-1")))], MemoryStore(), archive)

    assert outcome.failed == ["1"]  # SQS delivers it again; the archive already has it
    assert len(archive.objects) == 1
