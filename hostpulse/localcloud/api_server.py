"""The query API under uvicorn: the same FastAPI app the api function serves on Lambda."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from hostpulse.localcloud.component import Health
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.processes import ManagedProcess, ensure_port_free
from hostpulse.localcloud.replicas import probe
from hostpulse.localcloud.settings import LocalCloudSettings


@dataclass(frozen=True)
class ApiGuard:
    """What guards the API, in one place for every runtime the local cloud deploys it to: the
    API under uvicorn (its environment), the api function and Terraform (the stack's
    variables, which put the tokens in the secret store)."""

    admin_token: str
    read_token: str  # "" for none
    public_read: bool | None  # None: not said

    @classmethod
    def of(cls, settings: LocalCloudSettings, admin_token: str) -> ApiGuard:
        read = settings.read_token
        return cls(admin_token, read.get_secret_value() if read else "", settings.public_read)

    @property
    def public_read_here(self) -> str:
        """The setting as the local cloud deploys it: here, on 127.0.0.1, reads without a read
        token are public unless said otherwise."""
        return str(self.public_read is not False).lower()

    def environment(self) -> dict[str, str]:
        return {
            "HOSTPULSE_ADMIN_TOKEN": self.admin_token,
            "HOSTPULSE_READ_TOKEN": self.read_token,
            "HOSTPULSE_PUBLIC_READ": self.public_read_here,
        }

    def tokens(self) -> dict[str, str]:
        """The stack's secret variables (Terraform takes them from its environment)."""
        return {"admin_token": self.admin_token, "read_token": self.read_token}

    def variables(self) -> dict[str, str]:
        """The stack's variables as the local cloud deploys it."""
        return {**self.tokens(), "public_read": self.public_read_here}


def api_healthy(url: str) -> tuple[bool, str]:
    return probe(f"{url}/api/v1/health")


class ApiServer:
    name = "api"

    def __init__(self, paths: StatePaths, port: int, trusted_proxies: str = "") -> None:
        self.paths = paths
        self.port = port
        self.trusted_proxies = trusted_proxies
        self.process: ManagedProcess | None = None
        self.environment: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(
        self,
        database_url: str,
        redis_url: str,
        cors_origins: str,
        guard: Mapping[str, str],
        pipeline: Mapping[str, str],
    ) -> None:
        """Called by the supervisor once the servers it needs are up; ``pipeline``: where the
        queues the pipeline view watches are (their URLs, the AWS endpoint and region)."""
        self.environment = {
            "HOSTPULSE_DATABASE_URL": database_url,
            "HOSTPULSE_REDIS_URL": redis_url,
            "HOSTPULSE_CORS_ORIGINS": cors_origins,
            **guard,
            **pipeline,
        }

    def start(self) -> None:
        ensure_port_free(self.port, "the API", "HOSTPULSE_API_PORT")
        self.process = ManagedProcess(
            name="api",
            argv=[
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:served_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                # The client address (which the sign-in throttle counts) is the peer's, unless
                # the peer is a proxy named in HOSTPULSE_TRUSTED_PROXIES.
                *(
                    ["--forwarded-allow-ips", self.trusted_proxies]
                    if self.trusted_proxies
                    else ["--no-proxy-headers"]
                ),
                # wsproto answers a WebSocket handshake of any size at once; the websockets
                # implementation left one with a URL over 8 KB hanging for 20-30 s.
                "--ws",
                "wsproto",
            ],
            log_file=self.paths.log("api"),
            pid_file=self.paths.pid("api"),
            env={**os.environ, **self.environment},
        )
        self.process.start()
        self.process.wait_until(lambda: api_healthy(self.url)[0], timeout=60)

    def stop(self) -> None:
        paths = self.paths
        (self.process or ManagedProcess.recorded("api", paths.log("api"), paths.pid("api"))).stop()

    def health(self) -> Health:
        healthy, detail = api_healthy(self.url)
        return Health(self.name, self.url, healthy, detail)

    def crash(self) -> str | None:
        return self.process.crash_cause() if self.process else None
