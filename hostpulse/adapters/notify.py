"""Where notifications go: a webhook (generic JSON), Slack's incoming webhook, SNS, the log,
Alertmanager."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

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


# Prometheus sends what fires every resend delay (a minute, as the alerts schedule runs), each
# valid for four of them: an Alertmanager that stops hearing of an alert ends it by itself.
RESEND_S = 60
VALID_FOR_S = 4 * RESEND_S
ALERTS_PATH = "/api/v2/alerts"
NOT_A_LABEL_CHARACTER = re.compile(r"[^a-zA-Z0-9_]")


def label_set(pairs: dict[str, str]) -> dict[str, str]:
    """Labels as Alertmanager takes them: names of letters, digits and underscores, not
    starting with a digit; empty values left out, as Prometheus leaves them out."""
    out = {}
    for name, value in pairs.items():
        clean = NOT_A_LABEL_CHARACTER.sub("_", name)
        if clean[:1].isdigit():
            clean = f"_{clean}"
        if value:
            out[clean] = value
    return out


def postable_alert(notifier: Notifier, payload: dict[str, Any], now_s: float) -> dict[str, Any]:
    """One notification as Alertmanager's API v2 takes an alert (``POST /api/v2/alerts``)."""
    severity = {"severity": payload["severity"]} if payload["severity"] else {}
    labels = {**severity, **payload["labels"]}
    ends = payload["resolved_at"] or datetime.fromtimestamp(now_s + VALID_FOR_S, UTC).isoformat()
    alert = {
        "labels": label_set(labels),
        "annotations": label_set(payload["annotations"]),
        "startsAt": payload["fired_at"],
        "endsAt": ends,
    }
    if notifier.dashboard_url:  # the host's page; an alert of no host: the rule's alerts
        where = {"host": payload["host"]} if payload["host"] else {"page": "alerts"}
        page = urlencode(where if payload["host"] else {**where, "rule": payload["rule"]})
        alert["generatorURL"] = f"{notifier.dashboard_url.rstrip('/')}/?{page}"
    return alert


class AlertmanagerChannel:
    """Alertmanager's API v2, to every Alertmanager of the notifier: an HA pair gets every
    alert (they agree between themselves on who notifies). One that does not answer fails
    the delivery, which is retried to all of them: Alertmanager takes the same alert again as
    the one it has."""

    def __init__(
        self, session: requests.Session | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.session = session or requests.Session()
        self.clock = clock

    def send(self, notifier: Notifier, payload: dict[str, Any]) -> None:
        body = [postable_alert(notifier, payload, self.clock())]
        failures = []
        for url in notifier.urls:
            try:
                response = self.session.post(
                    f"{url.rstrip('/')}{ALERTS_PATH}",
                    json=body,
                    timeout=notifier.timeout_s,
                    headers={"User-Agent": USER_AGENT},
                )
                response.raise_for_status()
            except requests.RequestException as error:
                failures.append(f"{url}: {error}")
        if failures:
            raise ConnectionError("; ".join(failures))
