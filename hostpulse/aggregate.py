"""Aggregation of one queued batch into the PostgreSQL tiers."""

from __future__ import annotations

import gzip
from typing import Protocol

from pydantic import ValidationError

from hostpulse.contract import Batch
from hostpulse.envelope import Envelope, EnvelopeError
from hostpulse.ingest.ports import Archive


class MetricWriter(Protocol):
    def write_batch(self, batch: Batch) -> bool:
        """Store in every tier; False when the batch was stored before."""


def read_batch(body: str, archive: Archive) -> Batch:
    envelope = Envelope.decode(body)
    if envelope.inline is not None:
        payload = envelope.inline
    else:
        assert envelope.archive_key is not None
        payload = gzip.decompress(archive.get(envelope.archive_key))
    try:
        return Batch.model_validate_json(payload)
    except ValidationError as error:
        raise EnvelopeError(f"queued batch does not match the contract: {error}") from error


def aggregate_message(body: str, store: MetricWriter, archive: Archive) -> bool:
    """True when the batch was new; a duplicate delivery is a success that changes nothing."""
    return store.write_batch(read_batch(body, archive))
