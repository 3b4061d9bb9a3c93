"""k8s/ as the tests read it: an overlay rendered by kustomize (as `kubectl apply -k` does), and
its workloads as pods that `podman kube play` can run on one host's network."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hostpulse.localcloud.settings import PROJECT_ROOT

Manifest = dict[str, Any]
GENERATED = re.compile(r"-[a-z0-9]{10}$")
LISTEN_FLAGS = ("--port", "--health-port")  # uvicorn's and the worker's


def render(overlay: str) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize built in) is needed to render k8s/"
    out = subprocess.run(
        [kubectl, "kustomize", str(PROJECT_ROOT / "k8s" / "overlays" / overlay)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


@dataclass
class HostPods:
    """What a node gives a pod, given by hand on a host without a cluster.

    Only these rewrites are made, each standing in for the kubelet or the cluster: every pod on
    the host's network (the only network here) with its own free ports; ConfigMap values and
    Secret files given as the API server would (Secrets as files of a host directory, mounted
    where the Secret would be); the stores' addresses where they run here instead of their
    Services; ``$(VAR)`` references and the node's name filled in; container ports not declared
    (on the host's network they are the host's). Everything else (images,
    commands, users, read-only roots, capabilities, limits, volumes) is the manifests'.
    """

    manifests: list[Manifest]
    node_name: str
    config: dict[str, str] = field(default_factory=dict)  # over the ConfigMap's values
    secrets: dict[str, Path] = field(default_factory=dict)  # Secret name -> directory
    host_paths: dict[str, Path] = field(default_factory=dict)  # host path -> stand-in
    ports: dict[str, int] = field(default_factory=dict)  # workload -> its port here
    services: dict[str, str] = field(default_factory=dict)  # a Service's name -> host:port here

    def pod(self, kind: str, name: str, **env: str) -> Manifest:
        workload = find(self.manifests, kind, name)
        spec_of = workload["spec"]["jobTemplate"] if kind == "CronJob" else workload
        template = spec_of["spec"]["template"]
        spec = copy.deepcopy(template["spec"])
        spec["hostNetwork"] = True
        if kind in ("Job", "CronJob"):
            spec["restartPolicy"] = "Never"  # a failure is the test's to see, not to retry
        for container in spec["containers"]:
            self._container(container, name, env)
        for volume in spec.get("volumes", []):
            self._volume(volume)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": template["metadata"].get("labels", {})},
            "spec": spec,
        }

    def _config_map(self, name: str) -> dict[str, str]:
        data: dict[str, str] = find(self.manifests, "ConfigMap", name)["data"]
        return {**data, **{k: v for k, v in self.config.items() if k in data}}

    def _container(self, container: Manifest, workload: str, extra: dict[str, str]) -> None:
        env: dict[str, str] = {"NODE_NAME": self.node_name}
        for source in container.pop("envFrom", []):
            env.update(self._config_map(source["configMapRef"]["name"]))
        for item in container.get("env", []):
            value = item.get("value", env.get(item["name"], ""))
            for name, known in env.items():
                value = value.replace(f"$({name})", known)
            env[item["name"]] = value
        env.update(extra)
        for service, here in self.services.items():
            env = {k: v.replace(f"://{service}/", f"://{here}/") for k, v in env.items()}
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
        port = self.ports.get(workload)
        if port is not None:
            args = container["args"]
            for index, arg in enumerate(args[:-1]):
                if arg in LISTEN_FLAGS:
                    args[index + 1] = str(port)
        # On the host's network a container's ports are the host's: podman refuses to map them,
        # so they are not declared, and the probes name the port by number.
        named = {p["name"]: port or p["containerPort"] for p in container.pop("ports", [])}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            for check in ("httpGet", "tcpSocket"):
                target = container.get(probe, {}).get(check)
                if target is not None:
                    target["port"] = named.get(target["port"], target["port"])

    def _volume(self, volume: Manifest) -> None:
        secret = volume.pop("secret", None)
        if secret is not None:
            # A generated Secret's name ends in kustomize's hash of its content.
            name = GENERATED.sub("", secret["secretName"])
            directory = self.secrets[name]
            volume["hostPath"] = {"path": str(directory), "type": "Directory"}
        host_path = volume.get("hostPath", {}).get("path")
        if host_path in self.host_paths:
            volume["hostPath"] = {"path": str(self.host_paths[host_path]), "type": "Directory"}


def secret_directory(directory: Path, values: dict[str, str]) -> Path:
    """A Secret's keys as files, as the kubelet mounts them."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, value in values.items():
        (directory / key).write_text(value)
    return directory
