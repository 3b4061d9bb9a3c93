"""Notification channels against a real local HTTP server (and SNS on the local cloud)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests

from hostpulse.adapters.notify_channels import SlackChannel, WebhookChannel
from hostpulse.alerts.rules import Notifier, load_rule_set
from hostpulse.alerts.service import payload
from hostpulse.alerts.values import describe


class Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 204

    def do_POST(self) -> None:
        type(self).bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def url() -> Iterator[str]:
    Receiver.bodies, Receiver.status = [], 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def firing() -> dict[str, Any]:
    rule = load_rule_set("rules:\n  - {name: HostHighCpu, metric: cpu.percent, threshold: 90}\n")
    cpu = rule.rules[0]
    return payload(
        cpu, "web-1", "firing", 1000, 11_000, None, 97.5, describe(cpu, "web-1", 97.5, "firing")
    )


def test_a_webhook_gets_the_generic_json(url: str) -> None:
    WebhookChannel().send(Notifier(name="hook", type="webhook", url=url), firing())

    [body] = Receiver.bodies
    assert (body["status"], body["rule"], body["host"], body["value"]) == (
        "firing",
        "HostHighCpu",
        "web-1",
        97.5,
    )
    assert body["labels"] == {"alertname": "HostHighCpu", "host": "web-1"}
    assert body["fired_at"] == "1970-01-01T00:00:11+00:00"


def test_slack_gets_a_text(url: str) -> None:
    SlackChannel().send(Notifier(name="chat", type="slack", url=url), firing())

    [body] = Receiver.bodies
    assert set(body) == {"text"}
    assert "[FIRING] HostHighCpu" in body["text"] and "`web-1`" in body["text"]


def test_a_refusing_webhook_raises_so_the_delivery_is_retried(url: str) -> None:
    Receiver.status = 500

    with pytest.raises(requests.HTTPError):
        WebhookChannel().send(Notifier(name="hook", type="webhook", url=url), firing())
