"""Aggregation of queued batches into the PostgreSQL tiers, with per-message failures."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from hostpulse.core.envelope import QueuedBatch, group_archive_key, gzipped, read_batch
from hostpulse.core.partitions import oldest_kept_ms
from hostpulse.core.ports import Archive, Counters
from hostpulse.services.aggregate.ports import AggregateMeter, MetricWriter, TierRoller
from hostpulse.services.aggregate.rollup import RollupSchedule

log = logging.getLogger(__name__)
LINE_END = gzipped(b"\n")  # what ends each batch's line in an archive object


class Claim(StrEnum):
    """What became of a batch: one batch per (agent, seq), whatever else it carries."""

    NEW = "new"  # stored in every tier
    DUPLICATE = "duplicate"  # the same batch again (a retry, a redelivery, a replay)
    REUSED_SEQ = "reused_seq"  # another batch under a sequence number already used: skipped


@dataclass
class AggregateOutcome:
    failed: list[str] = field(default_factory=list)  # message ids to redeliver
    stored: int = 0
    duplicates: int = 0
    reused_seq: int = 0
    expired: int = 0  # older than the batch claims are kept: skipped
    archive_failed: bool = False


@lru_cache(maxsize=1)
def archiving() -> ThreadPoolExecutor:
    """One per execution environment, started on the first group: archive writes run beside
    the database's."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="archive")


def aggregate_records(
    records: Sequence[tuple[str, str]],
    store: MetricWriter,
    archive: Archive,
    horizon_ms: int | None = None,
) -> AggregateOutcome:
    """Write every readable batch of an SQS batch in one transaction.

    A message that cannot be read fails alone (and after its retries, reaches the dead-letter
    queue). If the group's transaction fails, each batch is retried on its own, so one bad
    batch cannot hold back the others.

    A batch with a sample before ``horizon_ms`` (where retention has dropped the record of
    which batches were stored) is skipped: delivered again late, it could not be told from one
    already merged into the 1-minute and 1-hour tiers, and would count twice. Replays from the
    archive are the operator's choice, made to rebuild lost tiers, and are written.
    """
    outcome = AggregateOutcome()
    readable: list[tuple[str, QueuedBatch]] = []
    for message_id, body in records:
        try:
            queued = read_batch(body, archive)
        except Exception:
            log.exception("unreadable message %s", message_id)
            outcome.failed.append(message_id)
            continue
        oldest = min(s.ts_ms for s in queued.batch.samples)
        if horizon_ms is not None and oldest < horizon_ms and not queued.archived:
            log.warning(
                "batch %s:%s is older than its record would be kept: skipped",
                queued.batch.agent_id,
                queued.batch.seq,
            )
            outcome.expired += 1
            continue
        readable.append((message_id, queued))
    if not readable:
        return outcome
    # The archive object is written while the database writes: its latency (an S3 round
    # trip) overlaps the transaction instead of following it. It holds every batch of the group
    # that did not come from the archive; a redelivered group is written again under its key.
    to_archive = [queued for _, queued in readable if not queued.archived]
    archived = archiving().submit(archive_group, to_archive, archive) if to_archive else None
    results = _write(readable, store, outcome)
    failed = set(outcome.failed)
    for (message_id, queued), claim in zip(readable, results, strict=True):
        if message_id in failed:
            continue
        outcome.stored += claim is Claim.NEW
        outcome.duplicates += claim is Claim.DUPLICATE
        if claim is Claim.REUSED_SEQ:
            outcome.reused_seq += 1
            log.warning(
                "agent %s reused sequence number %s for another batch: skipped",
                queued.batch.agent_id,
                queued.batch.seq,
            )
    outcome.archive_failed = archived is not None and not archived.result()
    return outcome


def _write(
    readable: Sequence[tuple[str, QueuedBatch]], store: MetricWriter, outcome: AggregateOutcome
) -> list[Claim]:
    try:
        return store.write_batches([queued.batch for _, queued in readable])
    except Exception:
        log.warning("group write failed; writing one batch at a time", exc_info=True)
    results = []
    for message_id, queued in readable:
        try:
            results.extend(store.write_batches([queued.batch]))
        except Exception:
            log.exception("batch %s:%s failed", queued.batch.agent_id, queued.batch.seq)
            outcome.failed.append(message_id)
            results.append(Claim.DUPLICATE)
    return results


def archive_group(queued: Sequence[QueuedBatch], archive: Archive) -> bool:
    """The batches of one SQS batch in one object (JSON lines, gzipped), for replay. Best
    effort: a failure is counted, and whether the messages succeed is the database write's to
    say.

    A gzip stream may be several members: each batch goes in as the member it travelled in,
    and a member holding a line end follows it: compressing the group again cost a core more
    than the database's write of it (``docs/benchmarks.md``); the object is about twice as big.
    """
    key = group_archive_key(
        [(q.batch.agent_id, q.batch.seq, min(s.ts_ms for s in q.batch.samples)) for q in queued]
    )
    members = b"".join(
        (q.member if q.member is not None else gzipped(q.payload.strip())) + LINE_END
        for q in queued
    )
    try:
        archive.put(key, members)
    except Exception:
        log.warning("archive write failed for %s", key, exc_info=True)
        return False
    return True


@dataclass
class Aggregation:
    """The aggregate function's work on one SQS batch: the batches stored, what became of them
    counted (for CloudWatch and for the pipeline's minute), then the rolled tiers brought up to
    date once a bucket has closed. Built once per execution environment."""

    store: MetricWriter
    roller: TierRoller
    archive: Archive
    counters: Counters
    meter: AggregateMeter
    rollups: RollupSchedule
    claims_kept: timedelta  # how long which batches were stored is known

    def run(self, records: Sequence[tuple[str, str]], now: datetime) -> list[str]:
        """The message ids to hand back for redelivery."""
        horizon = oldest_kept_ms(now, self.claims_kept)
        outcome = aggregate_records(records, self.store, self.archive, horizon)
        for name, value in (
            ("batches_stored", outcome.stored),
            ("batches_duplicate", outcome.duplicates),
            ("batches_seq_reused", outcome.reused_seq),
            ("batches_expired", outcome.expired),
            ("messages_failed", len(outcome.failed)),
            ("archive_failures", int(outcome.archive_failed)),
        ):
            self.counters.count(name, value)
        self.meter.aggregated(outcome.stored, len(outcome.failed), int(now.timestamp() * 1000))
        self.rollups.run_if_due(self.roller, now)
        return outcome.failed
