"""terraform/: formatted, valid, its offline tests and checkov pass, and a real apply on the
local cloud carries an agent's batches into PostgreSQL, matches `hostpulse deploy`'s stack,
shows no drift, and is destroyed without a trace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from pydantic import SecretStr

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.deploy.model import Stack, load_stack
from hostpulse.deploy.packaging import code_sha256, package_stack
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.settings import PROJECT_ROOT, LocalCloudSettings
from hostpulse.localcloud.terraform import (
    CONFIGURATION,
    PLUGIN_DIR,
    LocalTerraform,
    state_resources,
)
from tests.support import CloudUnderTest, eventually

CHECKOV = PROJECT_ROOT / ".hostpulse" / "terraform" / "checkov" / "bin" / "checkov"
STACK = load_stack(PROJECT_ROOT / "stack" / "stack.yaml")
PREFIX = "hostpulse-tf"
READ_TOKEN = "hp_read_terraform_apply_test"
# Terraform, its provider and checkov come from `make terraform-tools`, which `make test-all` runs.
pytestmark = pytest.mark.slow
TEST_ONLY = {"HOSTPULSE_RULES_CACHE_SECONDS"}


def terraform(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_DATA_DIR": str(data_dir), "TF_CLI_CONFIG_FILE": os.devnull}
    return subprocess.run(
        ["terraform", f"-chdir={CONFIGURATION}", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def initialized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Terraform data folder with the provider installed from the verified mirror."""
    assert PLUGIN_DIR.exists(), "make test installs the provider (scripts/terraform-tools.sh)"
    data_dir = tmp_path_factory.mktemp("terraform-data")
    init = terraform(data_dir, "init", f"-plugin-dir={PLUGIN_DIR}", "-lockfile=readonly")
    assert init.returncode == 0, init.stdout + init.stderr
    return data_dir


def test_the_configuration_is_formatted_and_valid(initialized: Path) -> None:
    formatted = terraform(initialized, "fmt", "-check", "-recursive", "-diff")
    valid = terraform(initialized, "validate", "-no-color")

    assert formatted.returncode == 0, formatted.stdout
    assert valid.returncode == 0, valid.stdout + valid.stderr


def test_names_and_policies_under_a_mock_provider(initialized: Path, tmp_path: Path) -> None:
    package_stack(STACK, tmp_path, wheels=[])  # the configuration hashes every package

    run = terraform(initialized, "test", "-no-color", f"-var=package_dir={tmp_path}")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 failed" in run.stdout and " 0 passed" not in run.stdout


def test_checkov_finds_nothing_unexplained(tmp_path: Path) -> None:
    assert CHECKOV.exists(), "make test installs checkov (scripts/terraform-tools.sh)"
    report = tmp_path / "checkov"
    run = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(CONFIGURATION),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
            "--output-file-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = json.loads((report / "results_json.json").read_text())
    results = output["results"]

    failed = [f"{c['check_id']} {c['resource']}" for c in results["failed_checks"]]
    assert failed == [], run.stdout
    assert output["summary"]["passed"] > 20, "checkov read the configuration"
    unexplained = [
        f"{c['check_id']} {c['resource']}"
        for c in results["skipped_checks"]
        if len(c.get("check_result", {}).get("suppress_comment", "")) < 20
    ]
    assert unexplained == []


# -- a real apply on the local cloud ------------------------------------------------------------


def expected_actions(stack: Stack, function: str) -> set[str]:
    access = stack.functions[function].access
    actions = {"logs:CreateLogStream", "logs:PutLogEvents"}
    if any(t.function == function for t in stack.triggers):
        actions |= {
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        }
    actions |= {"sqs:SendMessage"} if access.send else set()
    actions |= {"sqs:GetQueueAttributes"} if access.watch else set()
    actions |= {"s3:GetObject"} if access.read else set()
    actions |= {"s3:PutObject"} if access.write else set()
    actions |= {"secretsmanager:GetSecretValue"} if access.secrets else set()
    return actions


def deployed(endpoints: dict[str, Any], prefix: str, api_name: str) -> dict[str, Any]:
    """What the cloud holds under a prefix, with the prefix taken out of every name."""
    region, url = endpoints["region"], endpoints["aws_endpoint_url"]
    lam, sqs, events, apigw = (
        aws_client(s, region, url) for s in ("lambda", "sqs", "events", "apigateway")
    )

    def logical(name: str) -> str:
        return name.removeprefix(f"{prefix}-")

    functions, triggers = {}, {}
    for name in STACK.functions:
        config = lam.get_function_configuration(FunctionName=f"{prefix}-{name}")
        functions[name] = {
            "runtime": config["Runtime"],
            "handler": config["Handler"],
            "memory": config["MemorySize"],
            "timeout": config["Timeout"],
            # The session's cloud also sets its short rule cache (tests/support.py).
            "environment": sorted(set(config["Environment"]["Variables"]) - TEST_ONLY),
        }
        for mapping in lam.list_event_source_mappings(FunctionName=f"{prefix}-{name}")[
            "EventSourceMappings"
        ]:
            queue = logical(mapping["EventSourceArn"].rsplit(":", 1)[1])
            triggers[f"{queue}->{name}"] = {
                "batch_size": mapping["BatchSize"],
                "window": mapping.get("MaximumBatchingWindowInSeconds", 0),
                "responses": mapping.get("FunctionResponseTypes", []),
            }
    queues = {}
    for name in STACK.queues:
        url_of = sqs.get_queue_url(QueueName=f"{prefix}-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url_of, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
        queues[name] = {
            "visibility": attributes["VisibilityTimeout"],
            "retention": attributes["MessageRetentionPeriod"],
            "dead_letter": logical(redrive.get("deadLetterTargetArn", ":").rsplit(":", 1)[1]),
            "receives": int(redrive.get("maxReceiveCount", 0)),
        }
    schedules = {}
    for name in STACK.schedules:
        rule = events.describe_rule(Name=f"{prefix}-{name}")
        targets = events.list_targets_by_rule(Rule=f"{prefix}-{name}")["Targets"]
        schedules[name] = {
            "expression": rule["ScheduleExpression"],
            "targets": [logical(t["Arn"].rsplit(":", 1)[1]) for t in targets],
        }
    api = next(a for a in apigw.get_rest_apis(limit=500)["items"] if a["name"] == api_name)
    routes = set()
    for resource in apigw.get_resources(restApiId=api["id"], limit=500, embed=["methods"])["items"]:
        for method in resource.get("resourceMethods") or {}:
            uri = apigw.get_integration(
                restApiId=api["id"], resourceId=resource["id"], httpMethod=method
            )["uri"]
            function = uri.split(":function:")[1].split("/")[0]
            routes.add((method, resource["path"], logical(function)))
    return {
        "functions": functions,
        "triggers": triggers,
        "queues": queues,
        "schedules": schedules,
        "routes": sorted(routes),
        "binary_media_types": sorted(api.get("binaryMediaTypes", [])),
    }


def leftovers(endpoints: dict[str, Any], prefix: str) -> list[str]:
    region, url = endpoints["region"], endpoints["aws_endpoint_url"]

    def client(service: str) -> Any:
        return aws_client(service, region, url)

    found = [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]]
    found += client("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    found += [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
    found += [a["name"] for a in client("apigateway").get_rest_apis(limit=500)["items"]]
    found += [r["Name"] for r in client("events").list_rules(NamePrefix=prefix)["Rules"]]
    found += [r["RoleName"] for r in client("iam").list_roles()["Roles"]]
    found += [s["Name"] for s in client("secretsmanager").list_secrets()["SecretList"]]
    found += [
        s["StackName"]
        for s in client("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    found += [
        g["logGroupName"]
        for g in client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")[
            "logGroups"
        ]
    ]
    return sorted(
        name for name in found if name.startswith(prefix) or f"/{prefix}-" in name or name == prefix
    )


@pytest.mark.localcloud
def test_an_apply_that_does_not_say_whether_reads_are_public_is_refused(
    local_cloud: CloudUnderTest, capfd: pytest.CaptureFixture[str]
) -> None:
    unsaid = LocalCloudSettings(state_dir=local_cloud.state_dir, read_token=None)
    local = LocalTerraform(unsaid, "hostpulse-tfo")
    shutil.rmtree(local.root, ignore_errors=True)

    with pytest.raises(LocalCloudError, match="terraform apply failed"):
        local.apply()

    assert "public_read: say whether the API's reads are public" in capfd.readouterr().err
    assert state_resources(local.state_file) == []
    assert leftovers(local_cloud.endpoints, "hostpulse-tfo") == []


@pytest.fixture
def applied(local_cloud: CloudUnderTest) -> Iterator[tuple[LocalTerraform, dict[str, Any]]]:
    closed = LocalCloudSettings(
        state_dir=local_cloud.state_dir, read_token=SecretStr(READ_TOKEN), public_read=False
    )
    local = LocalTerraform(closed, PREFIX)
    shutil.rmtree(local.root, ignore_errors=True)
    try:
        yield local, local.apply()
    finally:
        local.destroy()


@pytest.mark.localcloud
def test_terraform_apply_on_the_local_cloud(
    local_cloud: CloudUnderTest, applied: tuple[LocalTerraform, dict[str, Any]]
) -> None:
    local, outputs = applied
    endpoints = local_cloud.endpoints
    region, url = endpoints["region"], endpoints["aws_endpoint_url"]

    # Exactly the packages that were built run.
    lam = aws_client("lambda", region, url)
    for name in STACK.functions:
        package = (local.package_dir / f"{name}.zip").read_bytes()
        config = lam.get_function_configuration(FunctionName=f"{PREFIX}-{name}")
        assert config["CodeSha256"] == code_sha256(package), name

    # Each role allows exactly what its function does, on named resources only.
    iam = aws_client("iam", region, url)
    for name in STACK.functions:
        role = f"{PREFIX}-{name}"
        policy = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
        document = json.loads(policy) if isinstance(policy, str) else policy
        statements = document["Statement"]
        assert {a for s in statements for a in s["Action"]} == expected_actions(STACK, name)
        assert all(r != "*" for s in statements for r in s["Resource"]), name

    # The same functions, queues, triggers, schedules and routes as `hostpulse deploy`'s.
    assert deployed(endpoints, PREFIX, PREFIX) == deployed(endpoints, STACK.name, STACK.name)

    # An agent's batches through the Terraform-created API Gateway reach the tiers.
    simulated = local_cloud.cli(
        "simulate",
        "--hosts",
        "1",
        "--duration",
        "6",
        "--interval",
        "1",
        "--send-every",
        "2",
        "--prefix",
        "tfsim",
        "--ingest-url",
        outputs["ingest_url"],
        timeout=180,
    )
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    assert json.loads(simulated.stdout.strip().splitlines()[-1])["rejected"] == 0

    def stored() -> int:
        with psycopg2.connect(endpoints["database_url"]) as connection, connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM raw_values r JOIN series s ON s.id = r.series_id"
                " WHERE s.host = 'tfsim-000' AND s.metric = 'cpu.percent'"
            )
            return int((cur.fetchone() or (0,))[0])

    eventually(stored, timeout=120, interval=2)
    # Reads closed (public_read = false) behind the read token the function reads from its secret.
    anonymous = requests.get(f"{outputs['api_url']}/api/v1/hosts", timeout=60)
    assert anonymous.status_code == 401
    reader = {"Authorization": f"Bearer {READ_TOKEN}"}
    hosts = requests.get(f"{outputs['api_url']}/api/v1/hosts", headers=reader, timeout=60)
    assert hosts.status_code == 200
    assert "tfsim-000" in {h["host"] for h in hosts.json()["hosts"]}
    # A week's view reads the 5-minute tier and, for what is not rolled up yet, those below.
    week = requests.get(
        f"{outputs['api_url']}/api/v1/series",
        params={"host": "tfsim-000", "metric": "cpu.percent", "from": "-7d"},
        headers=reader,
        timeout=60,
    ).json()
    assert sum(point[4] for point in week["series"][0]["points"]) >= 1

    # The dashboard is published with a config.json naming this API.
    config = requests.get(outputs["dashboard_url"].replace("index.html", "config.json"), timeout=30)
    assert config.json()["apiBase"] == outputs["api_url"]
    page = requests.get(outputs["dashboard_url"], timeout=30)
    assert page.status_code == 200 and "js/main.js" in page.text

    # No drift after the apply.
    assert local.plan_exit_code() == 0

    # Destroy leaves nothing behind, in the state or in the cloud.
    local.destroy()
    assert state_resources(local.state_file) == []
    assert leftovers(endpoints, PREFIX) == []
