"""Running the real local cloud from tests, the way a user does: through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hostpulse.localcloud.settings import PROJECT_ROOT

T = TypeVar("T")
HOSTPULSE = [sys.executable, "-m", "hostpulse.cli.main"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CloudUnderTest:
    state_dir: Path
    env: dict[str, str]

    @classmethod
    def fresh(cls, name: str) -> CloudUnderTest:
        state_dir = PROJECT_ROOT / ".hostpulse" / "tests" / name
        shutil.rmtree(state_dir, ignore_errors=True)
        env = {
            **os.environ,
            "HOSTPULSE_STATE_DIR": str(state_dir),
            "HOSTPULSE_LOCALSTACK_PORT": str(free_port()),
            "HOSTPULSE_POSTGRES_PORT": str(free_port()),
            "HOSTPULSE_REDIS_PORT": str(free_port()),
            "HOSTPULSE_API_PORT": str(free_port()),
        }
        for inherited in ("HOSTPULSE_DATABASE_URL", "HOSTPULSE_REDIS_URL", "AWS_ENDPOINT_URL"):
            env.pop(inherited, None)
        return cls(state_dir, env)

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HOSTPULSE, *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=PROJECT_ROOT,
        )

    def up(self) -> None:
        result = self.cli("up", "--detach")
        if result.returncode != 0:
            log = self.state_dir / "logs" / "up.log"
            raise RuntimeError(
                f"hostpulse up failed: {result.stdout}{result.stderr}\n"
                f"{log.read_text() if log.exists() else ''}"
            )

    def down(self) -> None:
        self.cli("down", timeout=120)

    @property
    def endpoints(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state_dir / "endpoints.json").read_text())
        return data

    def pid(self, component: str) -> int:
        return int((self.state_dir / "run" / f"{component}.pid").read_text())


def eventually(probe: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Poll until probe returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
