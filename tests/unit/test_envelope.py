from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.core.envelope import Envelope, EnvelopeError, gunzip, gzipped, read_batch
from hostpulse.services.aggregate.service import archive_group
from hostpulse.simulation.host import SyntheticHost
from tests.fakes import MemoryArchive

LINE = b'{"agent_id":"web-1"}'


def test_gzipped_data_is_the_same_bytes_whenever_it_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A retried archive write must put the very object it put before, a second later or not.
    first = gzipped(LINE)
    monkeypatch.setattr(time, "time", lambda: time.monotonic() + 2_000_000_000)
    assert gzipped(LINE) == first
    assert gzip.decompress(first) == LINE


def test_one_whole_member_is_kept_as_it_travelled() -> None:
    packed = gzip.compress(LINE, compresslevel=9)  # another level, another header: kept as is
    assert gunzip(packed) == (LINE, packed)


@pytest.mark.parametrize(
    "packed",
    [
        gzipped(LINE[:5]) + gzipped(LINE[5:]),  # two members
        gzipped(LINE) + b"\0\0",  # padding that gzip readers skip at the end of a stream only
    ],
)
def test_anything_but_one_whole_member_is_read_but_not_kept(packed: bytes) -> None:
    assert gunzip(packed) == (LINE, None)


@pytest.mark.parametrize(
    "packed",
    [gzipped(LINE)[:-3], gzipped(LINE) + b"junk", b"not gzip at all"],
)
def test_a_broken_member_is_an_undecodable_message(packed: bytes) -> None:
    body = json.dumps({"v": 1, "gzip_b64": base64.b64encode(packed).decode()})
    with pytest.raises(EnvelopeError, match="undecodable"):
        Envelope.decode(body)


def test_a_message_is_compressed_once_however_often_it_is_encoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    envelope = Envelope(inline=LINE)
    first = envelope.encode()
    monkeypatch.setattr(gzip, "compress", lambda *_, **__: pytest.fail("compressed again"))
    assert envelope.encode() == first


PACKINGS: dict[
    str, Callable[[bytes], bytes]
] = {  # how a batch's JSON may come gzipped in a queue message
    "as sent": gzipped,
    "two members": lambda data: gzip.compress(data[:7], mtime=0) + gzip.compress(data[7:]),
    "padded": lambda data: gzipped(data) + b"\0" * 4,
}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(sorted(PACKINGS)), min_size=1, max_size=6))
def test_an_archive_object_holds_each_batch_on_its_own_line_however_it_travelled(
    packings: list[str],
) -> None:
    batches = [SyntheticHost(f"web-{i}").batch([1_700_000_000_000]) for i in range(len(packings))]
    queued = []
    for batch, packing in zip(batches, packings, strict=True):
        packed = PACKINGS[packing](batch.model_dump_json().encode())
        message = {"v": 1, "gzip_b64": base64.b64encode(packed).decode()}
        queued.append(read_batch(json.dumps(message), MemoryArchive()))
    archive = MemoryArchive()

    assert archive_group(queued, archive)
    [data] = archive.objects.values()
    lines = gzip.decompress(data).splitlines()
    assert lines == [b.model_dump_json().encode() for b in batches]
