"""What the alert functions run: each queued batch through the rules, what is due delivered, and
the schedule's tick, each with what it counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hostpulse.core.envelope import read_batch
from hostpulse.core.ports import Archive, Counters
from hostpulse.services.alerts.ports import PipelineCheck
from hostpulse.services.alerts.rule_groups import RuleGroupRunner
from hostpulse.services.alerts.service import AlertService, Outcome

log = logging.getLogger(__name__)


@dataclass
class QueuedEvaluation:
    """The alerts queue's consumer: one queued batch at a time, then the deliveries."""

    service: AlertService
    archive: Archive
    counters: Counters

    def evaluate(self, body: str, now_ms: int) -> None:
        outcome = self.service.evaluate_batch(read_batch(body, self.archive).batch, now_ms)
        self.counters.count("rules_evaluated", outcome.evaluated)
        self.counters.count("alerts_fired", outcome.fired)
        self.counters.count("alerts_resolved", outcome.resolved)

    def deliver(self, now_ms: int) -> None:
        """After the evaluations committed; a failed delivery is retried by the schedule."""
        delivered = self.service.deliver_due(now_ms)
        self.counters.count("notifications_delivered", delivered.delivered)
        self.counters.count("notifications_failed", delivered.failed)


@dataclass
class AlertTick:
    """The schedule's work: the pipeline's own check and the Prometheus rule groups first (so
    that what they fire is delivered by this tick), then hosts gone silent, reminders and
    delivery retries."""

    service: AlertService
    pipeline_check: PipelineCheck
    rule_groups: RuleGroupRunner | None = None

    def run(self, now_ms: int) -> dict[str, Any]:
        status = self.pipeline_check(now_ms)
        groups = self.rule_groups.run(now_ms) if self.rule_groups else Outcome()
        outcome = self.service.tick(now_ms)
        result: dict[str, Any] = {
            "fired": outcome.fired + groups.fired,
            "group_rules_evaluated": groups.evaluated,
            "notifications": outcome.notifications + groups.notifications,
            "delivered": outcome.delivered,
            "failed": outcome.failed,
            "pipeline": status,
        }
        log.info("alerts tick", extra=result)
        return result
