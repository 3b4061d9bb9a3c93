"""The deployer against LocalStack: idempotent, and code changes land."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.deploy.deployer import Deployer
from hostpulse.deploy.model import load_stack
from tests.support import CloudUnderTest, eventually, pid_alive

pytestmark = pytest.mark.localcloud
FIXTURES = Path(__file__).parents[1] / "fixtures"


def write_stack(directory: Path) -> Path:
    shutil.copytree(FIXTURES / "lambda_probe", directory / "lambda_probe")
    text = (FIXTURES / "probe_stack.yaml").read_text().replace("name: probe", "name: redeploy")
    path = directory / "stack.yaml"
    path.write_text(text)
    return path


def test_second_deploy_changes_nothing_and_code_changes_update_only_code(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    endpoints = local_cloud.endpoints
    stack_file = write_stack(tmp_path)

    def deploy() -> list[str]:
        stack = load_stack(stack_file)
        return Deployer(stack, endpoints["aws_endpoint_url"], endpoints["region"]).deploy().changes

    first = deploy()
    assert "create function redeploy-probe" in first
    assert deploy() == []

    handler = tmp_path / "lambda_probe" / "handler.py"
    handler.write_text(
        handler.read_text().replace(
            '"function_name": context.function_name', '"function_name": "changed"'
        )
    )
    assert deploy() == ["update code of redeploy-probe"]
    assert deploy() == []

    lam = aws_client("lambda", endpoints["region"], endpoints["aws_endpoint_url"])
    answer = json.loads(lam.invoke(FunctionName="redeploy-probe", Payload=b"{}")["Payload"].read())
    assert answer["function_name"] == "changed"

    stack_file.write_text(
        stack_file.read_text().replace("memory: 128\n    timeout: 2", "memory: 128\n    timeout: 3")
    )
    assert deploy() == ["update configuration of redeploy-probe: Timeout"]


def test_deleting_a_function_leaves_no_process_behind(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    endpoints = local_cloud.endpoints
    stack_file = write_stack(tmp_path)
    stack_file.write_text(stack_file.read_text().replace("name: redeploy", "name: orphans"))
    Deployer(load_stack(stack_file), endpoints["aws_endpoint_url"], endpoints["region"]).deploy()
    lam = aws_client("lambda", endpoints["region"], endpoints["aws_endpoint_url"])
    pid = json.loads(lam.invoke(FunctionName="orphans-probe", Payload=b"{}")["Payload"].read())[
        "pid"
    ]
    assert pid_alive(pid)

    lam.delete_function(FunctionName="orphans-probe")

    eventually(lambda: not pid_alive(pid), timeout=30)
