"""Alert rules through the API and the CLI, on the real local cloud's PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.notify import SnsChannel
from hostpulse.services.alerts.notification_body import payload
from hostpulse.services.alerts.ports import Span
from hostpulse.services.alerts.rules import Notifier, load_rule_set
from tests.support import CloudUnderTest

pytestmark = pytest.mark.localcloud


def test_rules_are_created_replaced_refused_and_deleted_through_the_api(
    local_cloud: CloudUnderTest,
) -> None:
    base = f"{local_cloud.endpoints['local_api_url']}/api/v1/alert-rules"
    name = f"ApiRule{time.time_ns() % 10**6}"
    rule = {"name": name, "metric": "load.1", "op": ">", "threshold": 8, "for": "2m"}
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {admin_token(local_cloud)}"

    anonymous = requests.put(f"{base}/{name}", json=rule, timeout=30)
    created = admin.put(f"{base}/{name}", json=rule, timeout=30)
    replaced = admin.put(f"{base}/{name}", json={**rule, "threshold": 9}, timeout=30)
    listed = {r["name"]: r for r in requests.get(base, timeout=30).json()["rules"]}
    mismatched = admin.put(f"{base}/Other", json=rule, timeout=30)
    unknown_target = admin.put(f"{base}/{name}", json={**rule, "notify": ["pager"]}, timeout=30)
    bad = admin.put(f"{base}/{name}", json={**rule, "for": "soon"}, timeout=30)
    anonymous_delete = requests.delete(f"{base}/{name}", timeout=30)
    deleted = admin.delete(f"{base}/{name}", timeout=30)
    again = admin.delete(f"{base}/{name}", timeout=30)

    assert (created.status_code, replaced.status_code) == (201, 200)
    assert listed[name]["source"] == "api" and listed[name]["rule"]["threshold"] == 9
    assert listed[name]["rule"]["for"] == 120
    assert "HostHighCpu" in listed and listed["HostHighCpu"]["source"] == "file"
    assert mismatched.status_code == 422 and "differs" in mismatched.text
    assert unknown_target.status_code == 422 and "pager" in unknown_target.text
    assert bad.status_code == 422 and "not a duration" in bad.text
    assert (deleted.status_code, again.status_code) == (204, 404)
    assert (anonymous.status_code, anonymous_delete.status_code) == (401, 401)


def admin_token(cloud: CloudUnderTest) -> str:
    result = cloud.cli("admin-token")
    assert result.returncode == 0, result.stdout
    token = result.stdout.strip()
    assert (cloud.state_dir / "admin-token").stat().st_mode & 0o077 == 0, "kept 0600"
    return token


def test_the_cli_checks_a_rule_file_and_names_the_line(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("rules:\n  - {name: a, metric: cpu.percent, threshold: 95}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    metric: cpu.percent\n    threshold: high\n")

    checked = local_cloud.cli("alerts", "check", str(good))
    refused = local_cloud.cli("alerts", "load", str(bad))

    assert checked.returncode == 0 and "1 rules, all valid" in checked.stdout
    assert refused.returncode == 1
    assert f"{bad}: line 4: rules.0.threshold" in refused.stdout


def test_the_sns_channel_publishes_the_generic_json(local_cloud: CloudUnderTest) -> None:
    e = local_cloud.endpoints
    sns = aws_client("sns", e["region"], e["aws_endpoint_url"])
    sqs = aws_client("sqs", e["region"], e["aws_endpoint_url"])
    suffix = time.time_ns() % 10**8
    topic = sns.create_topic(Name=f"pager-{suffix}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"pager-inbox-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    rule = load_rule_set("rules:\n  - {name: Disk, metric: 'disk.percent:*', threshold: 90}\n")
    body = payload(rule.rules[0], "db-1", "resolved", Span(0, 1000, 2000), 12.0)

    SnsChannel(sns).send(Notifier(name="pager", type="sns", topic_arn=topic), body)

    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=10)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Subject"] == "[RESOLVED] Disk on db-1"
    assert json.loads(envelope["Message"]) == body
