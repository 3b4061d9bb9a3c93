"""The SQS-triggered functions in-process: aggregate and alerts, with partial batch responses."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.aggregate import handler as aggregate
from functions.alerts import handler as alerts
from hostpulse.core.contract import Batch, Cpu
from hostpulse.core.envelope import Envelope
from hostpulse.core.tiers import Tier, default_tiers
from hostpulse.services.aggregate.rollup import RollupSchedule
from hostpulse.services.aggregate.service import Aggregation, Claim
from hostpulse.services.alerts.rules import load_rule_set
from hostpulse.services.alerts.runs import QueuedEvaluation
from hostpulse.services.alerts.service import AlertService
from hostpulse.services.self_monitoring.history import PipelineMeter, minute_of
from hostpulse.simulation.host import SyntheticHost
from tests.alert_fakes import MemoryAlertStore, RecordingChannel
from tests.events import sqs_event
from tests.fakes import MemoryArchive, MemoryTally, Unavailable

ROLLED = [tier for tier in default_tiers() if tier.rolled]


@dataclass
class MemoryTiers:
    """Stores each (agent, seq) once; down: every write fails, as with PostgreSQL gone."""

    stored: dict[tuple[str, int], Batch] = field(default_factory=dict)
    down: bool = False
    # Every rolled tier starts a day behind; a rollup moves its watermark to the end asked.
    marks: dict[str, datetime] = field(
        default_factory=lambda: {t.name: datetime.now(UTC) - timedelta(days=1) for t in ROLLED}
    )
    rollups: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def watermarks(self) -> dict[str, datetime]:
        if self.down:
            raise Unavailable("database down")
        return dict(self.marks)

    def roll_up(self, tier: Tier, source: Tier, start: datetime, end: datetime) -> datetime:
        self.rollups.append((tier.name, start, end))
        self.marks[tier.name] = end
        return end

    def roll_again(self, tiers: Sequence[Tier]) -> int:
        return 0

    def write_batches(self, batches: Sequence[Batch]) -> list[Claim]:
        if self.down:
            raise Unavailable("database down")
        claims = []
        for batch in batches:
            key = (batch.agent_id, batch.seq)
            claims.append(Claim.DUPLICATE if key in self.stored else Claim.NEW)
            self.stored.setdefault(key, batch)
        return claims


def queued(host: SyntheticHost, *cpu: float) -> str:
    now = int(time.time() * 1000)
    batch = host.batch([now - 1000 * (len(cpu) - i) for i in range(len(cpu))])
    samples = [
        sample.model_copy(update={"cpu": Cpu(percent=value)})
        for sample, value in zip(batch.samples, cpu, strict=True)
    ]
    batch = batch.model_copy(update={"samples": samples})
    return Envelope(inline=batch.model_dump_json().encode()).encode()


@pytest.fixture
def tally() -> MemoryTally:
    return MemoryTally()


@pytest.fixture
def tiers(hand_in: Any, tally: MemoryTally) -> MemoryTiers:
    tiers = MemoryTiers()
    aggregation = Aggregation(
        store=tiers,
        roller=tiers,
        archive=MemoryArchive(),
        counters=aggregate.observed.counters,
        meter=PipelineMeter(tally),
        rollups=RollupSchedule(default_tiers()),
        claims_kept=timedelta(days=36500),  # every fixture batch is recent
    )
    hand_in(aggregate.aggregation, aggregation)
    return tiers


def test_aggregate_stores_each_batch_and_fails_only_the_unreadable_one(
    tiers: MemoryTiers, tally: MemoryTally, context: LambdaContext
) -> None:
    host = SyntheticHost("web-1", cores=2)
    first, second = queued(host, 10.0), queued(host, 20.0)
    event, ids = sqs_event(first, "not an envelope", second, first)

    answer = aggregate.handler(event, context)

    assert answer == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert sorted(tiers.stored) == [("web-1", 0), ("web-1", 1)]
    minute = tally.read(minute_of(int(time.time() * 1000)))  # for the pipeline's history
    assert minute == {"aggregate_stored": 2.0, "aggregate_failed": 1.0}


def test_aggregate_rolls_the_closed_buckets_up_once_they_are_due(
    tiers: MemoryTiers, context: LambdaContext
) -> None:
    host = SyntheticHost("web-1", cores=2)

    aggregate.handler(sqs_event(queued(host, 10.0))[0], context)
    rolled_first = len(tiers.rollups)
    aggregate.handler(sqs_event(queued(host, 20.0))[0], context)

    assert {name for name, _, _ in tiers.rollups} == {t.name for t in ROLLED}
    assert len(tiers.rollups) == rolled_first, "no new bucket has closed: no second rollup"
    now = datetime.now(UTC)
    assert all(now - end < timedelta(hours=6, minutes=3) for end in tiers.marks.values())


def test_aggregate_with_the_database_gone_hands_every_message_back(
    tiers: MemoryTiers, context: LambdaContext
) -> None:
    tiers.down = True
    host = SyntheticHost("web-1", cores=2)
    event, ids = sqs_event(queued(host, 10.0), queued(host, 20.0))

    answer = aggregate.handler(event, context)  # the rollup fails too, and is only logged

    assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    assert tiers.rollups == []


RULES = """
rules:
  - name: HostHighCpu
    metric: cpu.percent
    threshold: 90
    notify: [hook]
notifiers:
  - name: hook
    type: webhook
    url: https://hooks.example/alerts
"""


def test_alerts_evaluate_each_batch_and_deliver_what_fired(
    hand_in: Any, context: LambdaContext
) -> None:
    store = MemoryAlertStore(load_rule_set(RULES))
    channel = RecordingChannel()
    service = AlertService(store, {"webhook": channel, "log": channel})
    hand_in(alerts.evaluation, QueuedEvaluation(service, MemoryArchive(), alerts.observed.counters))
    event, ids = sqs_event(queued(SyntheticHost("db-1", cores=2), 95.0, 97.0), "{}")

    answer = alerts.handler(event, context)

    assert answer == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    [(_, sent)] = channel.sent
    assert (sent["status"], sent["host"], sent["rule"]) == ("firing", "db-1", "HostHighCpu")
