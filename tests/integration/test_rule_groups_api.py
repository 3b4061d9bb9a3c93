"""A Prometheus rule file through the API and the CLI of the real local cloud: loaded by an
operator's PUT (YAML or JSON), run by the deployed alerts-tick function, its recording rule's
series read back through the PromQL API, its alert listed by the alerts API and by Prometheus'
rules API (Grafana's), and resolved when its group is taken out; and every refusal."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.core.contract import Cpu
from hostpulse.simulation.host import SyntheticHost
from tests.integration.test_alerts_api import admin_token
from tests.support import CloudUnderTest, eventually, post_batch, registered_agent

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]


def rule_file(host: str, group: str) -> str:
    return f"""
groups:
  - name: {group}
    interval: 15s
    rules:
      - record: host:cpu:max
        expr: max by (host) (hostpulse_cpu_percent{{host="{host}"}})
        labels: {{source: rules}}
      - alert: RuleFileHot
        expr: host:cpu:max{{host="{host}", source="rules"}} > 90
        labels: {{severity: critical}}
        annotations:
          summary: "{{{{ $labels.host }}}} at {{{{ $value | printf \\"%.0f\\" }}}} %"
"""


def put_groups(cloud: CloudUnderTest, body: str, **params: Any) -> requests.Response:
    api = cloud.endpoints["local_api_url"]
    return requests.put(
        f"{api}/api/v1/rule-groups", data=body.encode(), params=params, timeout=30,
        headers={"Authorization": f"Bearer {admin_token(cloud)}",
                 "Content-Type": "application/yaml"},
    )  # fmt: skip


def tick(cloud: CloudUnderTest) -> dict[str, Any]:
    """The deployed alerts-tick function, run once now through the local cloud's Lambda."""
    endpoints = cloud.endpoints
    stack = endpoints["queues"]["aggregate"].rsplit("/", 1)[1].removesuffix("-aggregate")
    lam = aws_client("lambda", endpoints["region"], endpoints["aws_endpoint_url"])
    answer = lam.invoke(FunctionName=f"{stack}-alerts-tick", Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    return result


def group_of(cloud: CloudUnderTest, name: str) -> dict[str, Any] | None:
    api = cloud.endpoints["local_api_url"]
    listed = requests.get(f"{api}/prometheus/api/v1/rules", timeout=30).json()
    assert listed["status"] == "success"
    return next((g for g in listed["data"]["groups"] if g["name"] == name), None)


def test_a_rule_file_loaded_through_the_api_runs_on_the_alerts_schedule(
    local_cloud: CloudUnderTest,
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    name, token = registered_agent(local_cloud, "rulefile")
    host = SyntheticHost(name, cores=2)
    group = f"g-{uuid.uuid4().hex[:8]}"
    loaded = put_groups(local_cloud, rule_file(name, group))
    assert loaded.status_code == 200, loaded.text
    body = loaded.json()
    assert (body["groups"], body["alerting"], body["recording"]) == (1, 1, 1)
    assert group not in body["removed"]  # what `hostpulse up` loaded is replaced, as a file is
    assert group_of(local_cloud, group)["rules"][0]["health"] == "unknown"  # type: ignore[index]

    def hot_and_told() -> dict[str, Any] | None:
        now_ms = int(time.time() * 1000)
        batch = host.batch([now_ms - 1000, now_ms])
        samples = [s.model_copy(update={"cpu": Cpu(percent=97.0)}) for s in batch.samples]
        assert post_batch(local_cloud, batch.model_copy(update={"samples": samples}),
                          token).status_code == 202  # fmt: skip
        tick(local_cloud)
        listed = group_of(local_cloud, group)
        assert listed is not None
        record, alert = listed["rules"]
        return listed if alert["state"] == "firing" and record["health"] == "ok" else None

    listed = eventually(hot_and_told, timeout=120, interval=3)
    record, alert = listed["rules"]
    assert (record["type"], alert["type"]) == ("recording", "alerting")
    [firing] = alert["alerts"]
    assert firing["labels"] == {"alertname": "RuleFileHot", "host": name, "source": "rules",
                                "severity": "critical"}  # fmt: skip
    assert firing["annotations"] == {"summary": f"{name} at 97 %"}
    recorded = requests.get(f"{api}/prometheus/api/v1/query", timeout=30,
                            params={"query": f'host:cpu:max{{host="{name}"}}'}).json()  # fmt: skip
    assert [s["metric"] for s in recorded["data"]["result"]] == [
        {"__name__": "host:cpu:max", "host": name, "source": "rules"}
    ]
    active = requests.get(f"{api}/api/v1/alerts", timeout=30).json()["alerts"]
    [mine] = [a for a in active if a.get("rule_group") == group]
    assert (mine["rule"], mine["host"], mine["state"]) == ("RuleFileHot", name, "firing")

    removed = put_groups(local_cloud, "groups: []\n")
    assert removed.json()["removed"] == [group]
    assert group_of(local_cloud, group) is None
    active = requests.get(f"{api}/api/v1/alerts", timeout=30).json()["alerts"]
    assert not [a for a in active if a.get("rule_group") == group]
    history = requests.get(f"{api}/api/v1/alerts/history", params={"host": name},
                           timeout=30).json()["events"]  # fmt: skip
    assert {e["state"] for e in history if e["rule"] == "RuleFileHot"} >= {"firing", "resolved"}


def test_a_rule_file_is_refused_with_its_line_and_only_by_an_operator(
    local_cloud: CloudUnderTest,
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    bad = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m]\n"
    wrong = put_groups(local_cloud, bad)
    unknown = put_groups(local_cloud, "groups: []\n", notify="nowhere")
    anonymous = requests.put(f"{api}/api/v1/rule-groups", data=b"groups: []\n", timeout=30)
    huge = put_groups(local_cloud, "#" * 1_000_001)
    as_json = put_groups(local_cloud, json.dumps({"groups": []}))

    assert wrong.status_code == 422
    [problem] = wrong.json()["detail"]
    assert "line 5" in problem["msg"] and "could not parse expression" in problem["msg"]
    assert unknown.status_code == 422 and "nowhere" in unknown.text
    assert anonymous.status_code == 401
    assert huge.status_code == 413
    assert as_json.status_code == 200, as_json.text


def test_the_cli_loads_a_prometheus_rule_file_and_lists_its_rules(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    group = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "rules.yml"
    path.write_text(rule_file("web-1", group))

    loaded = local_cloud.cli("alerts", "load", str(path))
    listed = local_cloud.cli("alerts", "list")
    refused = local_cloud.cli("alerts", "load", str(path), "--notify", "nowhere")
    cleared = tmp_path / "none.yml"
    cleared.write_text("groups: []\n")
    emptied = local_cloud.cli("alerts", "load", str(cleared))

    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "1 groups, 1 alerting and 1 recording rules" in loaded.stdout
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    mine = [row for row in rows if row.get("group") == group]
    assert [(r["name"], r["type"]) for r in mine] == [
        ("host:cpu:max", "recording"), ("RuleFileHot", "alerting")
    ]  # fmt: skip
    assert refused.returncode == 1 and "nowhere" in refused.stdout
    assert emptied.returncode == 0 and f"groups taken out: {group}" in emptied.stdout
