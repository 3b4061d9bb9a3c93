"""Terraform's configuration (terraform/) applied to the running local cloud.

It stands beside the stack `hostpulse up` deployed under a name prefix of its own, shares its
PostgreSQL and Redis, and keeps its state, provider cache and packages under the state folder.
Functions are packaged with their dependencies for the interpreter the local cloud runs them
with (on AWS, `hostpulse package` targets the stack's runtime instead).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from hostpulse.deploy.model import load_stack
from hostpulse.deploy.packaging import Target, fetch_wheels, package_stack
from hostpulse.localcloud.api_server import ApiGuard
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.settings import PROJECT_ROOT, LocalCloudSettings
from hostpulse.localcloud.supervisor import read_endpoints

CONFIGURATION = PROJECT_ROOT / "terraform"
# Where scripts/terraform-tools.sh puts the provider (`make terraform-tools`).
PLUGIN_DIR = PROJECT_ROOT / ".hostpulse" / "terraform" / "plugins"
DEFAULT_PREFIX = "hostpulse-tf"


class LocalTerraform:
    def __init__(self, settings: LocalCloudSettings, prefix: str = DEFAULT_PREFIX) -> None:
        self.settings = settings
        self.prefix = prefix
        self.paths = StatePaths(settings.state_dir)
        self.root = settings.state_dir / "terraform" / prefix
        self.state_file = self.root / "terraform.tfstate"
        self.package_dir = self.root / "packages"

    def _endpoints(self) -> dict[str, Any]:
        endpoints = read_endpoints(self.paths)
        if endpoints is None:
            raise LocalCloudError("hostpulse is not running", "start it with `make up`")
        return endpoints

    def _environment(self) -> dict[str, str]:
        endpoints = self._endpoints()
        return {
            **os.environ,
            "TF_DATA_DIR": str(self.root / "data"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_CLI_CONFIG_FILE": os.devnull,  # no registry, no user configuration
            # Secrets travel in the environment, never on a command line.
            "TF_VAR_database_url": endpoints["database_url"],
            "TF_VAR_redis_url": endpoints["redis_url"],
            **{f"TF_VAR_{name}": value for name, value in self._guard().tokens().items()},
        }

    def _guard(self) -> ApiGuard:
        return ApiGuard.of(self.settings, self.paths.admin_token.read_text().strip())

    def _variables(self, destroying: bool = False) -> list[str]:
        endpoints = self._endpoints()
        values = {
            "name_prefix": self.prefix,
            "region": endpoints["region"],
            "localstack_endpoint": endpoints["aws_endpoint_url"],
            "package_dir": str(self.package_dir),
            "stack_file": str(self.settings.stack_file),
            "frontend_dir": str(PROJECT_ROOT / "frontend"),
            "force_destroy_buckets": "true",
        }
        # Whether reads are public is the operator's to say (HOSTPULSE_PUBLIC_READ): unsaid,
        # Terraform refuses, as it does on AWS.
        if self.settings.public_read is not None or destroying:
            values["public_read"] = str(bool(self.settings.public_read)).lower()
        return [f"-var={key}={value}" for key, value in values.items()]

    def terraform(self, *arguments: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", f"-chdir={CONFIGURATION}", *arguments],
            env=self._environment(),
            text=True,
            capture_output=capture,
            check=False,
        )

    def _checked(self, *arguments: str) -> None:
        if self.terraform(*arguments).returncode != 0:
            raise LocalCloudError(f"terraform {arguments[0]} failed", "its output is above")

    def init(self) -> None:
        if not PLUGIN_DIR.exists():
            raise LocalCloudError(
                "the AWS provider is not installed", "run `make terraform-tools` first"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self._checked(
            "init", f"-plugin-dir={PLUGIN_DIR}", "-lockfile=readonly", "-input=false", "-no-color"
        )

    def package(self) -> None:
        stack = load_stack(self.settings.stack_file)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        arm = platform.machine() in ("aarch64", "arm64")
        target = Target(version, "arm64" if arm else "x86_64")
        wheels = fetch_wheels(
            self.settings.stack_file.parent / "lambda-requirements.txt",
            target,
            self.settings.state_dir / "wheels",
        )
        package_stack(stack, self.package_dir, wheels)

    def apply(self) -> dict[str, Any]:
        self.init()
        self.package()
        self._checked(
            "apply", "-auto-approve", "-no-color", f"-state={self.state_file}", *self._variables()
        )
        return self.outputs()

    def plan_exit_code(self) -> int:
        """0: nothing to change, 2: changes (``-detailed-exitcode``), 1: an error."""
        return self.terraform(
            "plan",
            "-detailed-exitcode",
            "-no-color",
            f"-state={self.state_file}",
            *self._variables(),
        ).returncode

    def destroy(self) -> None:
        self.init()
        if not self.package_dir.exists():
            self.package()  # the configuration reads the packages' hashes even to destroy
        self._checked(
            "destroy",
            "-auto-approve",
            "-no-color",
            f"-state={self.state_file}",
            *self._variables(destroying=True),
        )

    def outputs(self) -> dict[str, Any]:
        run = self.terraform("output", "-json", f"-state={self.state_file}", capture=True)
        if run.returncode != 0:
            raise LocalCloudError("terraform output failed", run.stderr.strip())
        return {name: value["value"] for name, value in json.loads(run.stdout).items()}


def state_resources(state_file: Path) -> list[str]:
    """The addresses of what a state still holds (empty after a clean destroy)."""
    if not state_file.exists():
        return []
    state = json.loads(state_file.read_text())
    return [
        f"{r['type']}.{r['name']}" for r in state.get("resources", []) if r["mode"] == "managed"
    ]
