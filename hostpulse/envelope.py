"""How a batch travels on SQS: gzip+base64 inline, or a pointer to the archive when too big."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# SQS allows 256 KiB per message; leave room for attributes.
MAX_INLINE_BYTES = 240 * 1024
# zlib's own default. Python's gzip defaults to 9, which took 16.6 ms of CPU for an SQS batch's
# archive object (800 KB of batches) where 6 takes 9.8 ms, for objects 5 % bigger.
GZIP_LEVEL = 6


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

    def encode(self) -> str:
        message: dict[str, object] = {"v": 1}
        if self.inline is not None:
            message["gzip_b64"] = base64.b64encode(gzipped(self.inline)).decode()
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
                inline = gzip.decompress(base64.b64decode(message["gzip_b64"]))
                return Envelope(inline=inline, archived=archived)
            if "archive_key" in message:
                return Envelope(archive_key=str(message["archive_key"]), archived=archived)
        except EnvelopeError:
            raise
        except (ValueError, TypeError, AttributeError, OSError) as error:
            raise EnvelopeError(f"undecodable message: {error}") from error
        raise EnvelopeError("message has neither gzip_b64 nor archive_key")


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
