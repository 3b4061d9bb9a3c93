"""k8s/: every overlay renders (kustomize, as `kubectl apply -k` does), validates strictly
against a pinned Kubernetes schema, and passes checkov's Kubernetes checks, a reason beside
every check it skips."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hostpulse.localcloud.settings import PROJECT_ROOT
from tests.k8s import render

OVERLAYS = sorted(p.name for p in (PROJECT_ROOT / "k8s" / "overlays").iterdir() if p.is_dir())
KUBERNETES = "1.32.0"  # what Minikube and EKS run today
CHECKOV = PROJECT_ROOT / ".hostpulse" / "terraform" / "checkov" / "bin" / "checkov"


def keda_problems(document: dict[str, Any]) -> list[str]:
    """What KEDA's admission would refuse in the two kinds the aws overlay uses."""
    name, spec = f"{document['kind']}/{document['metadata']['name']}", document["spec"]
    if document["kind"] == "TriggerAuthentication":
        ok = spec.get("podIdentity", {}).get("provider") == "aws"
        return [] if ok else [f"{name}: podIdentity.provider must be aws"]
    if document["kind"] != "ScaledObject":
        return [f"{name}: unexpected KEDA kind"]
    problems = [] if spec.get("scaleTargetRef", {}).get("name") else [f"{name}: no target"]
    for trigger in spec.get("triggers", []):
        metadata = trigger.get("metadata", {})
        needed = {"queueURL", "queueLength", "awsRegion"} - metadata.keys()
        if trigger.get("type") != "aws-sqs-queue" or needed:
            problems.append(f"{name}: an SQS trigger needs {sorted(needed)}")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_renders_and_validates_strictly(overlay: str) -> None:
    documents = render(overlay)
    problems = []
    for document in documents:
        if document["apiVersion"].startswith("keda.sh/"):
            problems += keda_problems(document)  # a CRD: not in Kubernetes' own schema
            continue
        try:
            kubernetes_validate.validate(document, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{document['kind']}/{document['metadata']['name']}: {error.message}")
    assert not problems, problems
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "CronJob", "DaemonSet", "NetworkPolicy", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_hardened(overlay: str) -> None:
    for document in render(overlay):
        spec = document.get("spec", {})
        pod = spec.get("template", spec.get("jobTemplate", {}).get("spec", {}).get("template"))
        if pod is None:
            continue
        for container in pod["spec"]["containers"]:
            where = f"{document['kind']}/{document['metadata']['name']}/{container['name']}"
            assert container.get("resources", {}).get("limits"), f"{where}: no limits"
            assert container.get("resources", {}).get("requests"), f"{where}: no requests"
            context = container.get("securityContext", {})
            assert context.get("allowPrivilegeEscalation") is False, where
            assert "ALL" in context.get("capabilities", {}).get("drop", []), where
            if document["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
                assert "livenessProbe" in container and "readinessProbe" in container, where


@pytest.mark.slow
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing_unexplained(overlay: str, tmp_path: Path) -> None:
    assert CHECKOV.exists(), "make test installs checkov (scripts/terraform-tools.sh)"
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(yaml.safe_dump_all(render(overlay)))
    out = subprocess.run(
        [str(CHECKOV), "-f", str(rendered), "--framework", "kubernetes", "--output", "json",
         "--skip-download"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    report = json.loads(out.stdout)
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason) > 20, f"{skipped['check_id']} is skipped without a reason"
