"""A service of the one-box process runtime: copies of one command, each brought back when it
dies, as a Deployment's pods are. Copies of a server share the supervisor's listening socket,
so the kernel spreads connections across them, and a copy that dies takes nothing else down."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from hostpulse.localcloud.component import Health
from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.processes import (
    BACKGROUND_NICENESS,
    ManagedProcess,
    ensure_port_free,
    niced,
    read_pid,
)

# A copy that dies this often within the window is broken, not unlucky: stop everything with
# its cause rather than restart it in a loop.
RESTARTS_PER_WINDOW = 5
RESTART_WINDOW_S = 600.0
Report = Callable[[str], None]


def probe(url: str) -> tuple[bool, str]:
    """Whether a health URL answers 200, and what it answered ("GET /readyz -> 503")."""
    try:
        response = requests.get(url, timeout=3)
    except requests.RequestException as error:
        return False, type(error).__name__
    return response.status_code == 200, f"GET /{url.split('/', 3)[-1]} -> {response.status_code}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


def listening_socket(port: int, component: str, setting: str) -> socket.socket:
    """The socket the copies of a server accept on, made by the supervisor and inherited."""
    ensure_port_free(port, component, setting)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(2048)
    server.set_inheritable(True)
    return server


@dataclass
class Replicas:
    """A process per command; ``probes`` are the readiness URLs (one for copies that share a
    socket, else one per copy)."""

    name: str
    paths: StatePaths
    commands: Sequence[Sequence[str]]
    probes: Sequence[str]
    environment: Mapping[str, str]
    report: Report
    listen: socket.socket | None = None
    ready_timeout_s: float = 60.0
    copies: dict[int, ManagedProcess] = field(default_factory=dict)
    restarts: list[float] = field(default_factory=list)

    def _start_copy(self, number: int) -> ManagedProcess:
        name = copy_name(self.name, self.count, number)
        process = ManagedProcess(
            name=name,
            argv=niced(self.commands[number - 1], BACKGROUND_NICENESS),
            log_file=self.paths.log(name),
            pid_file=self.paths.pid(name),
            env=dict(self.environment),
            pass_fds=(self.listen.fileno(),) if self.listen is not None else (),
        )
        process.start()
        self.copies[number] = process
        return process

    @property
    def count(self) -> int:
        return len(self.commands)

    def start(self) -> None:
        for number in range(1, self.count + 1):
            self._start_copy(number)
        deadline = time.monotonic() + self.ready_timeout_s
        for url in self.probes:
            while not probe(url)[0]:
                dead = self.dead()
                if dead is not None:
                    raise LocalCloudError(dead, f"see {self.paths.logs}")
                if time.monotonic() > deadline:
                    raise LocalCloudError(
                        f"{self.name} did not become ready within {self.ready_timeout_s:.0f} s",
                        f"see {self.paths.logs}",
                    )
                time.sleep(0.2)

    def dead(self) -> str | None:
        causes = [p.crash_cause() for p in self.copies.values()]
        return next((cause for cause in causes if cause is not None), None)

    def crash(self) -> str | None:
        """Brings back each copy that died, within the restart budget; past it, the cause."""
        for number, process in list(self.copies.items()):
            cause = process.crash_cause()
            if cause is None:
                continue
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
            if len(self.restarts) >= RESTARTS_PER_WINDOW:
                return f"{cause} ({len(self.restarts)} restarts in {RESTART_WINDOW_S / 60:.0f} min)"
            self.restarts.append(now)
            self.report(f"warning: {cause}; restarting it")
            self._start_copy(number)
        return None

    def stop(self) -> None:
        for process in self.copies.values():
            process.stop()
        for pid_file in self.pid_files():
            ManagedProcess.recorded(self.name, self.paths.log(self.name), pid_file).stop()
        if self.listen is not None:
            self.listen.close()

    def pid_files(self) -> list[Path]:
        return copies_pid_files(self.paths, self.name, self.count)

    def health(self) -> Health:
        return replicas_health(self.paths, self.name, self.count, self.probes)

    def record(self) -> dict[str, object]:
        """What `hostpulse status` needs from another process: the endpoints file keeps it."""
        return {"count": self.count, "probes": list(self.probes)}


def copy_name(name: str, count: int, number: int) -> str:
    return name if count == 1 else f"{name}-{number}"


def copies_pid_files(paths: StatePaths, name: str, count: int) -> list[Path]:
    named = [paths.pid(copy_name(name, count, n)) for n in range(1, count + 1)]
    return [path for path in named if path.exists()]


def replicas_health(paths: StatePaths, name: str, count: int, probes: Sequence[str]) -> Health:
    pids = [pid for pid in map(read_pid, copies_pid_files(paths, name, count)) if pid is not None]
    answers = [probe(url) for url in probes]
    unready = [detail for ok, detail in answers if not ok]
    detail = f"{len(pids)} of {count} running"
    if answers:
        detail += f", {len(answers) - len(unready)} of {len(answers)} ready"
    if unready:
        detail += f" ({unready[0]})"
    address = probes[0].rsplit("/", 1)[0] if len(probes) == 1 else "127.0.0.1"
    return Health(name, address, len(pids) == count and not unready, detail)
