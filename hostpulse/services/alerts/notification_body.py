"""What a notification says (the generic JSON body every channel starts from) and sending one
at once, outside the delivery queue."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hostpulse.services.alerts.ports import Channel, NotificationKind, Span
from hostpulse.services.alerts.rules import Notifier, Rule
from hostpulse.services.alerts.values import describe

log = logging.getLogger(__name__)


def iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def payload(  # noqa: PLR0913 -- the parts of one notification
    rule: Rule,
    host: str,
    kind: NotificationKind,
    span: Span,
    value: float | None,
    *,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A notification of one of hostpulse's own rules. ``annotations``: the rule's templates
    as already rendered for this transition."""
    if annotations is None:
        annotations = describe(rule, host, value, "resolved" if kind == "resolved" else "firing")
    labels = {**rule.labels, "alertname": rule.name, "host": host}
    return alert_body(kind, span, value, rule=rule.name, host=host, severity=rule.severity,
                      labels=labels, annotations=annotations, threshold=rule.threshold)  # fmt: skip


def alert_body(  # noqa: PLR0913 -- the parts of one notification
    kind: NotificationKind,
    span: Span,
    value: float | None,
    *,
    rule: str,
    host: str,
    severity: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    threshold: float | None = None,
) -> dict[str, Any]:
    """The generic JSON body of a notification (webhook, SNS, log); Slack gets a text of it,
    Alertmanager its labels and annotations."""
    return {
        "version": 1,
        "status": "resolved" if kind == "resolved" else "firing",
        "kind": kind,
        "rule": rule,
        "host": host,
        "severity": severity,
        "value": value,
        "threshold": threshold,
        "started_at": iso(span.started_ms),
        "fired_at": iso(span.fired_ms),
        "resolved_at": iso(span.resolved_ms),
        "labels": labels,
        "annotations": annotations,
        "summary": annotations.get("summary", rule),
    }


def send_now(
    channels: Mapping[str, Channel], notifiers: list[Notifier], body: dict[str, Any]
) -> int:
    """``body`` to each notifier now, or not at all (the next tick sends it again): how many
    took it."""
    sent = 0
    for notifier in notifiers:
        try:
            channels[notifier.type].send(notifier, body)
        except Exception as error:
            log.warning("resending to alertmanager failed",
                        extra={"target": notifier.name, "error": str(error)})  # fmt: skip
            continue
        sent += 1
    return sent
