"""The seed's example end to end on the local cloud: a host above 90 % CPU for 15 s fires
exactly one alert at a real webhook, and resolves once when the CPU drops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Cpu
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.agents.tokens import register_agent
from hostpulse.services.alerts.rules import load_rule_set
from hostpulse.simulation.host import SyntheticHost
from tests.support import (
    RULES_CACHE_S,
    CloudUnderTest,
    WebhookReceiver,
    eventually,
    post_batch,
)

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def alert_host(local_cloud: CloudUnderTest, webhook: WebhookReceiver) -> Iterator[str]:
    store = PgAlertStore(PgConnector(local_cloud.endpoints["database_url"]))
    host = f"hot{time.time_ns() % 10**8}"
    defaults = (PROJECT_ROOT / "stack" / "alert-rules.yaml").read_text()
    extra = f"""
  - name: E2eHighCpu
    metric: cpu.percent
    op: ">"
    threshold: 90
    for: 10s
    hosts: {{names: [{host}]}}
    notify: [hook]
"""
    text = defaults.replace(
        "notifiers: []", f"notifiers:\n  - {{name: hook, type: webhook, url: '{webhook.url}'}}"
    )
    store.replace_file_rules(load_rule_set(text + extra))
    try:
        yield host
    finally:
        store.replace_file_rules(load_rule_set(defaults))


def test_a_host_above_90_percent_for_15_s_fires_once_and_resolves_once(
    local_cloud: CloudUnderTest, alert_host: str, webhook: WebhookReceiver
) -> None:
    name = alert_host
    token = register_agent(
        PgAgentRepository(PgConnector(local_cloud.endpoints["database_url"])), name
    )
    host = SyntheticHost(name, cores=2)
    time.sleep(RULES_CACHE_S + 1)  # the functions read the rules again
    cpu = [50.0] * 5 + [96.0] * 15 + [30.0] * 10
    started = time.time()
    for i, percent in enumerate(cpu):  # one sample a second, sent as it is taken
        time.sleep(max(0.0, started + i - time.time()))
        batch = host.batch([int(time.time() * 1000)])
        sample = batch.samples[0].model_copy(update={"cpu": Cpu(percent=percent)})
        response = post_batch(local_cloud, batch.model_copy(update={"samples": [sample]}), token)
        assert response.status_code == 202

    def ours() -> list[dict[str, Any]]:
        return [n for n in webhook.bodies if n["rule"] == "E2eHighCpu"]

    eventually(lambda: len(ours()) >= 2, timeout=90, interval=1)
    time.sleep(5)  # anything more would have arrived by now

    assert [(n["kind"], n["host"]) for n in ours()] == [("firing", name), ("resolved", name)]
    firing, resolved = ours()
    assert firing["value"] == 96.0 and firing["severity"] == "warning"
    assert resolved["resolved_at"] > firing["fired_at"]
    api = local_cloud.endpoints["local_api_url"]
    history = requests.get(
        f"{api}/api/v1/alerts/history", params={"host": name, "from": "-10m"}, timeout=30
    ).json()["events"]
    states = sorted({e["state"] for e in history if e["rule"] == "E2eHighCpu"})
    assert states == ["firing", "pending", "resolved"]
    fired_ms = min(e["ts_ms"] for e in history if e["state"] == "firing")
    recent = requests.get(f"{api}/api/alerts/recent", timeout=30).json()
    # The newest hundred of the session's cloud, where earlier tests' hosts fall silent
    # together: ours unless a hundred newer ones came between.
    if len(recent) < 100 or recent[-1]["timestamp"] * 1000 <= fired_ms:
        assert {(a["rule"], a["state"]) for a in recent if a["host"] == name} >= {
            ("E2eHighCpu", "firing"),
            ("E2eHighCpu", "resolved"),
        }
    active = requests.get(f"{api}/api/v1/alerts", timeout=30).json()["alerts"]
    assert not [a for a in active if a["host"] == name and a["rule"] == "E2eHighCpu"]
