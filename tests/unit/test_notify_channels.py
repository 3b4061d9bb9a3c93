"""Notification channels against a real local HTTP server (and SNS on the local cloud)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hostpulse.adapters.notify import SlackChannel, WebhookChannel
from hostpulse.services.alerts.ports import Span
from hostpulse.services.alerts.rules import Notifier, load_rule_set
from hostpulse.services.alerts.service import payload
from tests.support import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver()
    yield running
    running.stop()


def firing() -> dict[str, Any]:
    rule = load_rule_set("rules:\n  - {name: HostHighCpu, metric: cpu.percent, threshold: 90}\n")
    cpu = rule.rules[0]
    return payload(cpu, "web-1", "firing", Span(1000, 11_000), 97.5)


def test_a_webhook_gets_the_generic_json(receiver: WebhookReceiver) -> None:
    WebhookChannel().send(Notifier(name="hook", type="webhook", url=receiver.url), firing())

    [body] = receiver.bodies
    assert (body["status"], body["rule"], body["host"], body["value"]) == (
        "firing",
        "HostHighCpu",
        "web-1",
        97.5,
    )
    assert body["labels"] == {"alertname": "HostHighCpu", "host": "web-1"}
    assert body["fired_at"] == "1970-01-01T00:00:11+00:00"


def test_slack_gets_a_text(receiver: WebhookReceiver) -> None:
    SlackChannel().send(Notifier(name="chat", type="slack", url=receiver.url), firing())

    [body] = receiver.bodies
    assert set(body) == {"text"}
    assert "[FIRING] HostHighCpu" in body["text"] and "`web-1`" in body["text"]


def test_a_refusing_webhook_raises_so_the_delivery_is_retried(receiver: WebhookReceiver) -> None:
    receiver.status = 500

    with pytest.raises(requests.HTTPError):
        WebhookChannel().send(Notifier(name="hook", type="webhook", url=receiver.url), firing())
