"""How batches from senders that number nothing (OTLP, remote write) are numbered: per host an
agent id of their own, and a sequence number made of the batch's newest millisecond and a
digest of what it holds, so that a request sent again is the same batch (stored once) and
another with the same newest time is not."""

from __future__ import annotations

import hashlib

SEQ_DIGEST_BITS = 20


def agent_id(grant_name: str, hostname: str) -> str:
    """Per host, so that each host's batches are numbered on their own."""
    digest = hashlib.blake2b(hostname.encode(), digest_size=8).hexdigest()
    return f"{grant_name[:40]}.{digest}"


def sequence(newest_ms: int, content: bytes) -> int:
    digest = hashlib.blake2b(content, digest_size=8).digest()
    return (newest_ms << SEQ_DIGEST_BITS) | (int.from_bytes(digest) >> (64 - SEQ_DIGEST_BITS))
