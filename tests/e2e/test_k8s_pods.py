"""The minikube overlay's workloads as pods (`podman kube play`), on this host's network: no
Kubernetes API server runs here, so tests/k8s.py stands in for the kubelet (see HostPods for
exactly what it rewrites). The images are those `make images` builds; the stores are a local
cloud's, without the stack's SQS triggers, so that only the pods' workers read the queues.

The migrations Job migrates an empty database, the provision Job finds the queues, the fleet
token is issued inside the running API container as the runbook does, and the agent container
(the host's / mounted read-only) sends; the API answers with its host, its disks and its
processes; the CronJobs' functions run once each, and every server pod stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from hostpulse.localcloud.settings import PROJECT_ROOT
from tests.k8s import HostPods, render, secret_directory
from tests.support import CloudUnderTest, eventually, free_port, replace_database, stack_variant

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

CONTAINERS_CONF = PROJECT_ROOT / "images" / "containers.conf"
SERVERS = ("ingest", "api", "worker-aggregate", "worker-alerts")


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=False, timeout=timeout,
        env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
    )  # fmt: skip


@pytest.fixture(scope="module")
def images() -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: `make test` installs it (apt, as root)")
    tools = {"PYTHON": sys.executable, "UV": str(Path(sys.executable).with_name("uv"))}
    built = subprocess.run(
        ["sh", "scripts/build-images.sh"], capture_output=True, text=True, check=False,
        cwd=PROJECT_ROOT, timeout=1200, env={**os.environ, **tools},
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh("pods")
    cloud.env["HOSTPULSE_STACK_FILE"] = str(
        stack_variant(tmp_path_factory.mktemp("s"), lambda stack: stack.update(triggers=[]))
    )
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


def test_the_images_are_labelled_unprivileged_and_checked(images: None) -> None:
    seen = {}
    for image in ("server", "agent"):
        inspected = podman("image", "inspect", f"localhost/hostpulse-{image}:0.1.0")
        assert inspected.returncode == 0, inspected.stderr
        [config] = json.loads(inspected.stdout)
        seen[image] = (config["Config"]["User"], config["Labels"], config.get("Healthcheck"))
    for image, (user, labels, health) in seen.items():
        assert user.split(":")[0] not in ("", "0", "root"), image
        assert labels["org.opencontainers.image.version"] == "0.1.0", image
        assert labels["org.opencontainers.image.revision"] not in ("", "unknown"), image
        assert "bookworm" in labels["org.opencontainers.image.base.name"], image
        assert health and health["Test"], image


class Pods:
    """Pods played from files, and taken down again with what they printed kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.played: list[Path] = []

    def play(self, pod: dict[str, Any]) -> str:
        path = self.directory / f"{pod['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(pod))
        podman("pod", "rm", "--force", "--ignore", pod["metadata"]["name"])  # left by a crash
        played = podman("kube", "play", str(path))
        assert played.returncode == 0, played.stderr
        self.played.append(path)
        return f"{pod['metadata']['name']}-{pod['spec']['containers'][0]['name']}"

    def exit_code(self, container: str, timeout: float = 180) -> int:
        waited = podman("wait", container, timeout=timeout)
        assert waited.returncode == 0, waited.stderr
        return int(waited.stdout.strip())

    def logs(self, container: str) -> str:
        out = podman("logs", container)
        return out.stdout + out.stderr

    def stop(self, container: str) -> int:
        podman("stop", "--time", "30", container, timeout=60)
        return self.exit_code(container)

    def down(self) -> None:
        for path in reversed(self.played):
            podman("kube", "down", str(path), timeout=120)


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[Pods]:
    played = Pods(tmp_path)
    try:
        yield played
    finally:
        played.down()


READ_TOKEN = "hp_read_pods_test_token"


def answer(url: str, token: str | None = READ_TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(url, headers=headers, timeout=5)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.mark.timeout(1500)
def test_the_minikube_workloads_run_as_pods_and_the_api_answers_with_the_agents_host(
    images: None, cloud: CloudUnderTest, pods: Pods, tmp_path: Path
) -> None:
    endpoints = cloud.endpoints
    database_url = endpoints["database_url"].rsplit("/", 1)[0] + "/hostpulse_pods"
    replace_database(database_url)  # empty, as a new cluster's
    node = f"pods-node-{os.urandom(3).hex()}"
    token_dir = tmp_path / "agent-token"
    token_dir.mkdir()
    queues, dead = endpoints["queues"], endpoints["dead_letter_queues"]
    secrets = secret_directory(
        tmp_path / "secrets",
        {
            "HOSTPULSE_DATABASE_URL": database_url,
            "HOSTPULSE_REDIS_URL": endpoints["redis_url"].rsplit("/", 1)[0] + "/3",
            "HOSTPULSE_READ_TOKEN": READ_TOKEN,
        },
    )
    host = HostPods(
        render("minikube"),
        node,
        config={
            "AWS_ENDPOINT_URL": endpoints["aws_endpoint_url"],
            "HOSTPULSE_AGGREGATE_QUEUE_URL": queues["aggregate"],
            "HOSTPULSE_ALERTS_QUEUE_URL": queues["alerts"],
            "HOSTPULSE_AGGREGATE_DEAD_LETTER_URL": dead["aggregate"],
            "HOSTPULSE_ALERTS_DEAD_LETTER_URL": dead["alerts"],
            "HOSTPULSE_ARCHIVE_BUCKET": endpoints["buckets"]["archive"],
        },
        secrets={"hostpulse-secrets": secrets, "hostpulse-agent-token": token_dir},
        host_paths={"/var/lib/hostpulse-agent": tmp_path / "spool"},
        ports={name: free_port() for name in SERVERS},
    )
    host.services = {"ingest.hostpulse.svc.cluster.local": f"127.0.0.1:{host.ports['ingest']}"}
    (tmp_path / "spool").mkdir()

    migrate = pods.play(host.pod("Job", "migrate"))
    assert pods.exit_code(migrate) == 0, pods.logs(migrate)
    provision = pods.play(host.pod("Job", "provision"))
    assert pods.exit_code(provision) == 0, pods.logs(provision)
    assert f"HOSTPULSE_AGGREGATE_QUEUE_URL={queues['aggregate']}" in pods.logs(provision)

    servers = {name: pods.play(host.pod("Deployment", name)) for name in SERVERS}
    base = {name: f"http://127.0.0.1:{port}" for name, port in host.ports.items()}
    readiness = {"ingest": "/readyz", "api": "/api/v1/health",
                 "worker-aggregate": "/readyz", "worker-alerts": "/readyz"}  # fmt: skip
    for name, path in readiness.items():
        eventually(partial(answer, base[name] + path), timeout=120)

    # The runbook's step: the fleet token from inside the running API, into the agents' Secret.
    issued = podman("exec", servers["api"], "hostpulse", "agents", "add", "nodes", "--fleet",
                    "--host", "*")  # fmt: skip
    assert issued.returncode == 0, issued.stdout + issued.stderr
    (token_dir / "token").write_text(issued.stdout.splitlines()[0])
    agent = pods.play(host.pod("DaemonSet", "agent"))

    # Seen live from Redis at once; its agent is known once the aggregate worker stored a batch.
    try:
        hosts = eventually(
            lambda: [h for h in (answer(f"{base['api']}/api/v1/hosts") or {"hosts": []})["hosts"]
                     if h["host"] == node and h["agent_id"]] or None,
            timeout=180,
        )  # fmt: skip
    except AssertionError as error:
        said = {name: pods.logs(c)[-2000:] for name, c in {**servers, "agent": agent}.items()}
        raise AssertionError(f"{error}; what the pods said: {said}") from None
    latest = eventually(lambda: answer(f"{base['api']}/api/v1/hosts/{node}/latest"), timeout=60)
    # The read token came from the mounted Secret: without it, nothing is read.
    anonymous = requests.get(f"{base['api']}/api/v1/hosts/{node}/latest", timeout=5)
    assert anonymous.status_code == 401, anonymous.text
    assert hosts[0]["agent_id"] == f"nodes.{node}", hosts
    sample = latest["sample"]
    # The host's root file system, seen through the mounted /, not the container's overlay.
    assert "/" in {disk["mount"] for disk in sample["disks"]}, sample["disks"]
    # The host's processes through its /proc: more than the agent's own container holds.
    assert len(sample["processes"]) >= 5, sample["processes"]

    # What the CronJobs' schedules would start: one run of each, its answer the last line.
    answers = {}
    for scheduled in ("alerts-tick", "retention"):
        run = pods.play(host.pod("CronJob", scheduled))
        assert pods.exit_code(run) == 0, pods.logs(run)
        answers[scheduled] = json.loads(podman("logs", run).stdout.splitlines()[-1])
    assert answers["alerts-tick"]["pipeline"] == "ok", answers

    for name, container in servers.items():
        assert pods.stop(container) == 0, f"{name}: {pods.logs(container)[-3000:]}"
    assert pods.stop(agent) == 0, pods.logs(agent)[-3000:]
