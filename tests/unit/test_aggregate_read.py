from __future__ import annotations

import gzip

import pytest

from hostpulse.aggregate import aggregate_message, read_batch
from hostpulse.contract import Batch
from hostpulse.envelope import Envelope, EnvelopeError
from hostpulse.simulation import SyntheticHost
from tests.fakes import MemoryArchive


def a_batch() -> Batch:
    return SyntheticHost("web-1").batch([1_700_000_000_000, 1_700_000_005_000])


def test_inline_and_archived_batches_read_the_same() -> None:
    sent = a_batch()
    archive = MemoryArchive({"k": gzip.compress(sent.model_dump_json().encode())})

    inline = read_batch(Envelope(inline=sent.model_dump_json().encode()).encode(), archive)
    by_reference = read_batch(Envelope(archive_key="k").encode(), archive)

    assert inline == by_reference == sent


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
def test_poison_messages_raise_so_they_reach_the_dead_letter_queue(body: str) -> None:
    class NeverCalled:
        def write_batch(self, batch: Batch) -> bool:
            raise AssertionError("a poison message must not be written")

    with pytest.raises(EnvelopeError):
        aggregate_message(body, NeverCalled(), MemoryArchive())
