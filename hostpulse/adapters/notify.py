"""Where notifications go: a webhook (generic JSON), Slack's incoming webhook, SNS, the log."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from hostpulse.services.alerts.rules import Notifier

log = logging.getLogger("hostpulse.services.alerts")
USER_AGENT = "hostpulse-alerts/1"


class WebhookChannel:
    def __init__(self, session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()

    def send(self, notifier: Notifier, payload: dict[str, Any]) -> None:
        assert notifier.url is not None
        response = self.session.post(
            notifier.url,
            json=self.body(payload),
            timeout=notifier.timeout_s,
            headers={"User-Agent": USER_AGENT},
        )
        response.raise_for_status()

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload


class SlackChannel(WebhookChannel):
    """Slack's incoming webhooks take ``text`` (mrkdwn); Mattermost and others accept it too."""

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        mark = {"firing": ":red_circle:", "resolved": ":large_green_circle:"}[payload["status"]]
        kind = "REMINDER" if payload["kind"] == "reminder" else payload["status"].upper()
        return {
            "text": f"{mark} *[{kind}] {payload['rule']}* on `{payload['host']}` "
            f"({payload['severity']}): {payload['summary']}"
        }


class SnsChannel:
    def __init__(self, client: Any) -> None:
        self.client = client

    def send(self, notifier: Notifier, payload: dict[str, Any]) -> None:
        subject = f"[{payload['status'].upper()}] {payload['rule']} on {payload['host']}"
        self.client.publish(
            TopicArn=notifier.topic_arn,
            Subject=subject[:100],
            Message=json.dumps(payload),
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": payload["severity"]},
                "status": {"DataType": "String", "StringValue": payload["status"]},
            },
        )


class LogChannel:
    def send(self, notifier: Notifier, payload: dict[str, Any]) -> None:
        log.warning("alert %s", payload["status"], extra={"alert": payload})
