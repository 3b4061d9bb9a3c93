"""Notification channels against a real local HTTP server (and SNS on the local cloud)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
import requests

from hostpulse.adapters.notify import (
    AlertmanagerChannel,
    SlackChannel,
    WebhookChannel,
    postable_alert,
)
from hostpulse.services.alerts.notification_body import payload
from hostpulse.services.alerts.ports import Span
from hostpulse.services.alerts.rules import Notifier, load_rule_set
from tests.support import WebhookReceiver, free_port


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


def alertmanager(*urls: str, dashboard: str | None = None) -> Notifier:
    return Notifier(name="am", type="alertmanager", urls=list(urls), dashboard_url=dashboard)


def test_alertmanager_gets_alerts_as_its_api_v2_takes_them(receiver: WebhookReceiver) -> None:
    base = receiver.url.removesuffix("/hook")
    notifier = alertmanager(base, dashboard="https://hostpulse.example/")
    body = firing()
    body["labels"] |= {"team.name": "ops", "2nd": "x", "empty": ""}

    AlertmanagerChannel(clock=lambda: 1_000.0).send(notifier, body)

    [alerts] = receiver.bodies  # one list of alerts, posted to /api/v2/alerts
    assert cast(Any, alerts) == [
        {
            "labels": {"alertname": "HostHighCpu", "host": "web-1", "severity": "warning",
                       "team_name": "ops", "_2nd": "x"},
            "annotations": {"summary": body["summary"]},
            "startsAt": "1970-01-01T00:00:11+00:00",
            # valid four resend delays: an Alertmanager no longer told ends it by itself
            "endsAt": "1970-01-01T00:20:40+00:00",
            "generatorURL": "https://hostpulse.example/?host=web-1",
        }
    ]  # fmt: skip


def test_a_resolved_alert_ends_when_it_resolved() -> None:
    rule = load_rule_set("rules:\n  - {name: Up, metric: cpu.percent, threshold: 90}\n").rules[0]
    resolved = payload(rule, "db-1", "resolved", Span(1000, 11_000, 71_000), 20.0)

    alert = postable_alert(alertmanager("http://am:9093"), resolved, 5_000.0)

    assert (alert["startsAt"], alert["endsAt"]) == (
        "1970-01-01T00:00:11+00:00",
        "1970-01-01T00:01:11+00:00",
    )
    assert "generatorURL" not in alert  # no dashboard named


def test_every_alertmanager_gets_the_alert_and_one_down_fails_the_delivery(
    receiver: WebhookReceiver,
) -> None:
    base = receiver.url.removesuffix("/hook")
    down = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ConnectionError, match=down):
        AlertmanagerChannel().send(alertmanager(down, base, base), firing())

    assert len(receiver.bodies) == 2  # the ones that answer still got it


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "alertmanager"}, "needs urls"),
        ({"type": "alertmanager", "urls": ["am:9093"]}, "string should match"),
        ({"type": "webhook", "url": "http://h/", "urls": ["http://am/"]}, "alertmanager"),
    ],
)
def test_an_alertmanager_notifier_is_checked(spec: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=f"(?i){problem}"):
        Notifier.model_validate({"name": "am", **spec})
