"""hostpulse's alerts in Debian's real Alertmanager (an HA pair of two, started here): an alert
that fires is listed by both with its labels and a link to its host's page; its resends keep
it alive; it resolves and Alertmanager's webhook receiver is told; and a silence made in
Alertmanager keeps its notification from the receiver while the alert still shows, suppressed.

The alert service runs on in-memory storage (its PostgreSQL storage is tested elsewhere): what
is checked here is what Alertmanager makes of what hostpulse sends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from hostpulse.adapters.notify import AlertmanagerChannel
from hostpulse.core.contract import Batch, Cpu
from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.rule_groups import RuleGroupRunner, replace_rule_groups
from hostpulse.services.alerts.rules import Notifier, RuleSet, load_rule_set
from hostpulse.services.alerts.service import AlertService
from hostpulse.simulation.host import SyntheticHost
from tests.alert_fakes import (
    MemoryAlertStore,
    MemoryRecorder,
    MemoryRuleGroups,
    RecordingChannel,
    ScriptedQuery,
)
from tests.prometheus_oracle import serving
from tests.support import WebhookReceiver, eventually, free_port

pytestmark = pytest.mark.slow

# Alertmanager's receiver is told at once (group_wait) and of every change (group_interval).
CONFIG = """
route:
  receiver: hook
  group_by: [alertname, host]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
        send_resolved: true
"""
DASHBOARD = "https://hostpulse.example"


@contextmanager
def alertmanager_running(workdir: Path, hook: str) -> Iterator[str]:
    """Debian's Alertmanager on a free port of 127.0.0.1, alone (no cluster): its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(CONFIG.format(hook=hook))
    url = f"http://127.0.0.1:{free_port()}"
    command = ["prometheus-alertmanager", f"--config.file={config}",
               f"--storage.path={workdir / 'data'}", f"--web.listen-address={url[7:]}",
               "--cluster.listen-address="]  # fmt: skip
    with serving(command, workdir / "alertmanager.log", f"{url}/-/ready"):
        yield url


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver(status=200)
    yield running
    running.stop()


@pytest.fixture
def pair(tmp_path: Path, receiver: WebhookReceiver) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(alertmanager_running(tmp_path / name, receiver.url))
            for name in ("am-1", "am-2")
        ]


def rig(urls: list[str]) -> tuple[AlertService, AlertmanagerChannel]:
    rules = load_rule_set(f"""
notifiers:
  - name: am
    type: alertmanager
    urls: {urls}
    dashboard_url: {DASHBOARD}
rules:
  - name: HostHighCpu
    metric: cpu.percent
    threshold: 90
    for: 10s
    severity: critical
    labels: {{team: ops}}
    annotations: {{summary: "CPU on {{{{ host }}}} at {{{{ value }}}}"}}
    notify: [am]
""")
    channel = AlertmanagerChannel()
    return AlertService(
        MemoryAlertStore(rules), {"alertmanager": channel, "log": RecordingChannel()}
    ), channel


def cpu_batches(host: str, start_ms: int, cpu: list[float]) -> list[Batch]:
    """One sample a second from ``start_ms``, two to a batch."""
    synthetic = SyntheticHost(host, cores=2)
    out = []
    for first in range(0, len(cpu), 2):
        stamps = [start_ms + 1000 * i for i in range(first, min(first + 2, len(cpu)))]
        batch = synthetic.batch(stamps)
        samples = [s.model_copy(update={"cpu": Cpu(percent=cpu[(s.ts_ms - start_ms) // 1000])})
                   for s in batch.samples]  # fmt: skip
        out.append(batch.model_copy(update={"samples": samples}))
    return out


def alerts_of(url: str, **params: Any) -> list[dict[str, Any]]:
    response = requests.get(f"{url}/api/v2/alerts", params=params, timeout=5)
    response.raise_for_status()
    return list(response.json())


def told(receiver: WebhookReceiver, host: str, status: str) -> bool:
    """Whether Alertmanager's webhook notified this host's alert in this status."""
    return any(
        alert["labels"].get("host") == host and alert["status"] == status
        for body in receiver.bodies
        for alert in body.get("alerts", [])
    )


def send(service: AlertService, batches: list[Batch], now_ms: int) -> None:
    for batch in batches:
        service.evaluate_batch(batch, now_ms)
    assert service.deliver_due(now_ms).failed == 0


def test_a_firing_alert_is_listed_by_both_kept_alive_and_resolved(
    pair: list[str], receiver: WebhookReceiver
) -> None:
    service, _ = rig(pair)
    start_ms = int(time.time() * 1000) - 60_000

    send(service, cpu_batches("web-1", start_ms, [95.0] * 15), start_ms + 15_000)

    for url in pair:
        [alert] = alerts_of(url)
        assert alert["labels"] == {"alertname": "HostHighCpu", "host": "web-1",
                                   "severity": "critical", "team": "ops"}  # fmt: skip
        assert alert["annotations"] == {"summary": "CPU on web-1 at 95"}
        assert alert["generatorURL"] == f"{DASHBOARD}/?host=web-1"
        assert alert["status"]["state"] == "active"
        assert alert["startsAt"].startswith(iso_second(start_ms + 10_000))
    eventually(lambda: told(receiver, "web-1", "firing"), timeout=20)
    first_ends = [alerts_of(url)[0]["endsAt"] for url in pair]

    time.sleep(1.1)
    assert service.tick(int(time.time() * 1000)).resent == 1  # one notifier, to both

    for url, first_end in zip(pair, first_ends, strict=True):
        assert alerts_of(url)[0]["endsAt"] > first_end  # alive for longer
    send(service, cpu_batches("web-1", start_ms + 15_000, [20.0] * 4), start_ms + 20_000)
    for url in pair:
        assert alerts_of(url) == []  # ended: no longer listed
    eventually(lambda: told(receiver, "web-1", "resolved"), timeout=20)
    assert service.tick(int(time.time() * 1000)).resent == 0


def test_a_silence_in_alertmanager_keeps_the_notification_from_its_receiver(
    pair: list[str], receiver: WebhookReceiver
) -> None:
    service, _ = rig(pair[:1])
    url = pair[0]
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "host", "value": "db-1", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": now.replace(year=now.year + 1).isoformat(),
        "createdBy": "test",
        "comment": "maintenance",
    }
    created = requests.post(f"{url}/api/v2/silences", json=silence, timeout=5)
    created.raise_for_status()
    start_ms = int(time.time() * 1000) - 60_000

    for host in ("db-1", "db-2"):
        send(service, cpu_batches(host, start_ms, [99.0] * 12), start_ms + 12_000)

    eventually(lambda: told(receiver, "db-2", "firing"), timeout=20)
    time.sleep(3)  # three more of Alertmanager's group intervals
    assert not told(receiver, "db-1", "firing")
    by_host = {alert["labels"]["host"]: alert["status"] for alert in alerts_of(url)}
    assert by_host["db-1"]["state"] == "suppressed"
    assert by_host["db-1"]["silencedBy"] == [created.json()["silenceID"]]
    assert by_host["db-2"]["state"] == "active"


def test_a_rule_file_alert_reaches_alertmanager_with_exactly_its_labels(
    pair: list[str], receiver: WebhookReceiver
) -> None:
    """An alert of a Prometheus rule, fleet-wide (no host) and with no severity: Alertmanager
    lists the labels Prometheus would send, nothing added, and links to the rule's alerts."""
    notifier = Notifier(name="am", type="alertmanager", urls=pair, dashboard_url=DASHBOARD)
    groups = MemoryRuleGroups()
    rules = load_prometheus_rules("""
groups:
  - name: fleet
    rules:
      - alert: FleetDegraded
        expr: count(up == 0) > 2
        labels: {team: ops}
        annotations: {summary: "{{ $value }} hosts down"}
""")
    replace_rule_groups(groups, rules, (), 0)
    now_ms = int(time.time() * 1000)
    query = ScriptedQuery({"count(up == 0) > 2": {0: [({}, 3.0)]}})
    rule_set = RuleSet(notifiers=[notifier])
    runner = RuleGroupRunner(groups, query, MemoryRecorder(),
                             {"alertmanager": AlertmanagerChannel()}, lambda: rule_set)  # fmt: skip

    outcome = runner.run(now_ms)

    assert outcome.resent == 1
    for url in pair:
        [alert] = alerts_of(url)
        assert alert["labels"] == {"alertname": "FleetDegraded", "team": "ops"}
        assert alert["annotations"] == {"summary": "3 hosts down"}
        assert alert["generatorURL"] == f"{DASHBOARD}/?page=alerts&rule=FleetDegraded"
    eventually(lambda: any(a["labels"].get("alertname") == "FleetDegraded"
                           for body in receiver.bodies for a in body.get("alerts", [])),
               timeout=20)  # fmt: skip


def iso_second(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
