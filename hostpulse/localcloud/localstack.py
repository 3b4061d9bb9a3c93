"""LocalStack on the host, with hostpulse's Lambda executor."""

from __future__ import annotations

import os
import sys

import requests

from hostpulse.localcloud.component import Health
from hostpulse.localcloud.localstack_env import LocalStackEnvironment
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.processes import ManagedProcess, ensure_port_free, niced
from hostpulse.localcloud.settings import LocalCloudSettings

SERVICES = (
    "apigateway", "lambda", "sqs", "sns", "s3", "events", "iam", "sts", "logs", "cloudformation",
    "secretsmanager",
)  # fmt: skip
# Where the functions run as processes, LocalStack holds only their queues and buckets.
QUEUES_AND_BUCKETS = ("sqs", "s3")


def localstack_healthy(url: str, services: tuple[str, ...] = SERVICES) -> tuple[bool, str]:
    try:
        response = requests.get(f"{url}/_localstack/health", timeout=2)
        states = response.json().get("services", {})
    except (requests.RequestException, ValueError) as error:
        return False, type(error).__name__
    missing = [name for name in services if states.get(name) not in ("available", "running")]
    if missing:
        return False, f"services not ready: {', '.join(missing)}"
    return True, f"localstack {response.json().get('version', '?')}"


class LocalStack:
    name = "localstack"

    def __init__(
        self,
        paths: StatePaths,
        settings: LocalCloudSettings,
        services: tuple[str, ...] = SERVICES,
        niceness: int = 0,
    ) -> None:
        self.paths = paths
        self.services = services
        self.niceness = niceness
        self.port = settings.localstack_port
        self.environment = LocalStackEnvironment(
            settings.localstack_env_dir, settings.localstack_python
        )
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        root = self.paths.localstack
        tmp = root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        return {
            **inherited,
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{self.port}",
            "SERVICES": ",".join(self.services),
            "FILESYSTEM_ROOT": str(root / "fs"),
            "TMPDIR": str(tmp),
            # No network here beyond package indexes: no DNS server, certificate or analytics.
            "DNS_ADDRESS": "0",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            # Queue URLs as `<endpoint>/<account>/<name>`: the only form both the deployer and
            # Terraform's AWS provider 3.x parse ("standard" needs a DNS name for the region).
            "SQS_ENDPOINT_STRATEGY": "off",
            "LAMBDA_RUNTIME_EXECUTOR": "hostpulse",
            # Runtimes start a few at a time (see the executor), so a burst waits longer.
            "LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT": "90",
            # SQS triggers back off on an idle queue, by default up to 10 s between polls; AWS
            # long-polls instead. At most 1 s keeps the first alert after a quiet spell prompt.
            "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "1",
            "HOSTPULSE_LAMBDA_PYTHON": sys.executable,
            "HOSTPULSE_LAMBDA_LOG_DIR": str(self.paths.lambda_logs),
            "HOSTPULSE_STACK_DEPLOYED_FILE": str(self.paths.stack_deployed),
        }

    def start(self) -> None:
        ensure_port_free(self.port, "LocalStack", "HOSTPULSE_LOCALSTACK_PORT")
        # A new LocalStack holds no stack: its API routes answer 503 until it is deployed again.
        self.paths.stack_deployed.unlink(missing_ok=True)
        python = self.environment.ensure()
        self.process = ManagedProcess(
            name="localstack",
            argv=niced([str(python), "-m", "localstack.runtime.main"], self.niceness),
            log_file=self.paths.log("localstack"),
            pid_file=self.paths.pid("localstack"),
            env=self._env(),
            cwd=self.paths.localstack,
        )
        self.process.start()
        self.process.wait_until(lambda: localstack_healthy(self.url, self.services)[0], timeout=120)

    def stop(self) -> None:
        paths = self.paths
        recorded = ManagedProcess.recorded
        (
            self.process or recorded("localstack", paths.log("localstack"), paths.pid("localstack"))
        ).stop()

    def health(self) -> Health:
        healthy, detail = localstack_healthy(self.url, self.services)
        return Health(self.name, self.url, healthy, detail)

    def crash(self) -> str | None:
        return self.process.crash_cause() if self.process else None
