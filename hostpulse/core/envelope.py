"""How a batch travels on SQS: gzip+base64 inline, or a pointer to the archive when too big."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from pydantic import ValidationError

from hostpulse.core.contract import Batch
from hostpulse.core.ports import Archive

# SQS allows 256 KiB per message; leave room for attributes.
MAX_INLINE_BYTES = 240 * 1024
# zlib's fastest. Python's gzip defaults to 9, zlib to 6: each costs a batch two to three times
# the CPU of level 1 for a body only slightly smaller (docs/benchmarks.md, remote write), and
# every batch is compressed once on its way to the queue.
GZIP_LEVEL = 1
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's code for a gzip header and trailer


def gzipped(data: bytes) -> bytes:
    """``data`` gzipped, the same bytes for the same data (no timestamp in the header): a
    retried write puts the very object it put before."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


class EnvelopeError(ValueError):
    """A message that is not a hostpulse envelope: poison, goes to the dead-letter queue."""


@dataclass(frozen=True)
class Envelope:
    inline: bytes | None = None  # the batch's JSON
    archive_key: str | None = None
    # Sent again from the archive (a replay): aggregation does not archive it a second time.
    archived: bool = False
    # The inline batch gzipped as it travelled, when that was one whole gzip member: the archive
    # stores it as it is (see ``gunzip``) instead of compressing the batch again.
    member: bytes | None = field(default=None, compare=False, repr=False)

    def encode(self) -> str:
        return self._message

    @cached_property
    def _message(self) -> str:
        # Made once: the size check before sending reads the very message that is sent.
        message: dict[str, object] = {"v": 1}
        if self.inline is not None:
            packed = self.member if self.member is not None else gzipped(self.inline)
            message["gzip_b64"] = base64.b64encode(packed).decode()
        else:
            message["archive_key"] = self.archive_key
        if self.archived:
            message["archived"] = True
        return json.dumps(message)

    @staticmethod
    def decode(body: str) -> Envelope:
        try:
            message = json.loads(body)
            if message.get("v") != 1:
                raise EnvelopeError(f"unknown envelope version {message.get('v')!r}")
            archived = message.get("archived") is True
            if "gzip_b64" in message:
                packed = base64.b64decode(message["gzip_b64"])
                inline, member = gunzip(packed)
                return Envelope(inline=inline, archived=archived, member=member)
            if "archive_key" in message:
                return Envelope(archive_key=str(message["archive_key"]), archived=archived)
        except EnvelopeError:
            raise
        except (ValueError, TypeError, AttributeError, OSError, EOFError, zlib.error) as error:
            raise EnvelopeError(f"undecodable message: {error}") from error
        raise EnvelopeError("message has neither gzip_b64 nor archive_key")


def gunzip(packed: bytes) -> tuple[bytes, bytes | None]:
    """Gzipped data unpacked, with the packed bytes when they are one whole gzip member and
    nothing else: such members, joined, are a gzip stream of their data joined (RFC 1952)."""
    whole = zlib.decompressobj(wbits=GZIP_WBITS)
    data = whole.decompress(packed)
    if whole.eof and not whole.unused_data:
        return data, packed
    return gzip.decompress(packed), None  # several members, or something after one


def archive_key(agent_id: str, seq: int, first_ts_ms: int) -> str:
    """A batch too big for SQS: one key per (agent, seq), so a retry overwrites the same object."""
    day = datetime.fromtimestamp(first_ts_ms / 1000, tz=UTC)
    return f"large/{day:%Y/%m/%d}/{agent_id}/{seq:012d}.json.gz"


def group_archive_key(batches: Sequence[tuple[str, int, int]]) -> str:
    """The stored batches (agent, seq, first ms) of one SQS batch: same group, same key."""
    first_ms = min(ms for _, _, ms in batches)
    digest = hashlib.sha256(
        "\n".join(f"{agent}:{seq}" for agent, seq, _ in sorted(batches)).encode()
    ).hexdigest()[:24]
    hour = datetime.fromtimestamp(first_ms / 1000, tz=UTC)
    return f"batches/{hour:%Y/%m/%d/%H}/{digest}.jsonl.gz"


def envelope_for(  # noqa: PLR0913 -- the batch, where it is kept, and where it comes from
    payload: bytes,
    agent_id: str,
    seq: int,
    first_ts_ms: int,
    put: Callable[[str, bytes], None],
    *,
    archived: bool = False,
) -> Envelope:
    """The envelope a batch travels in: inline, or (too big for SQS) a claim check whose
    object ``put`` writes to the archive first. Raises what ``put`` raises."""
    envelope = Envelope(inline=payload, archived=archived)
    if len(envelope.encode()) <= MAX_INLINE_BYTES:
        return envelope
    key = archive_key(agent_id, seq, first_ts_ms)
    put(key, gzipped(payload))
    return Envelope(archive_key=key, archived=archived)


@dataclass(frozen=True)
class QueuedBatch:
    batch: Batch
    payload: bytes  # the batch's JSON as queued: archived as it is, not serialised again
    archived: bool = False  # sent again from the archive, which holds it already
    member: bytes | None = None  # the payload gzipped as it travelled (``gunzip``), if whole


def read_batch(body: str, archive: Archive) -> QueuedBatch:
    envelope = Envelope.decode(body)
    if envelope.inline is not None:
        payload, member = envelope.inline, envelope.member
    else:
        assert envelope.archive_key is not None
        payload, member = gunzip(archive.get(envelope.archive_key))
    try:
        batch = Batch.model_validate_json(payload)
        return QueuedBatch(batch, payload, envelope.archived, member)
    except ValidationError as error:
        raise EnvelopeError(f"queued batch does not match the contract: {error}") from error
