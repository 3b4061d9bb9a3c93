"""Child processes of the local cloud: started with a pid file and a log, stopped, no orphans."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from hostpulse.localcloud.errors import LocalCloudError


def port_owner(port: int) -> str:
    """Who listens on a loopback port, as 'name (pid N)', or 'another process'."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid:
                    with contextlib.suppress(psutil.Error):
                        return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
                break
    except psutil.AccessDenied:
        pass
    return "another process"


def ensure_port_free(port: int, component: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers do: a port whose last connection lingers in TIME_WAIT is free to bind.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise LocalCloudError(
                f"port {port} for {component} is taken by {port_owner(port)}",
                f"stop that process or set {setting} to a free port",
            ) from None


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


def _send(pid: int, sig: int, group: bool) -> bool:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stop_pid(pid: int, stop_signal: int = signal.SIGTERM, grace_seconds: float = 15.0) -> None:
    """Signal a process (its whole group when it leads one), wait, then kill what is left."""
    try:
        group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    if not _send(pid, stop_signal, group):
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and not _gone(pid):
        time.sleep(0.1)
    _send(pid, signal.SIGKILL, group)


SEVERE = ("FATAL", "PANIC", "ERROR", "Error", "error:", "Traceback")
# The pipeline's processes yield the cores to the dashboard's reads when the box is busy: a
# backlog costs agents a little latency, which they absorb; a slow page costs its reader.
BACKGROUND_NICENESS = 5


def niced(argv: Sequence[str], niceness: int) -> list[str]:
    """``argv`` run at a lower scheduling priority (all its threads), where `nice` exists."""
    nice = shutil.which("nice")
    return [nice, "-n", str(niceness), *argv] if nice and niceness else list(argv)


def log_tail(log_file: Path, lines: int = 3) -> str:
    """The telling end of a log: its last severe lines if any, else its last lines."""
    try:
        text = [line.strip() for line in log_file.read_text(errors="replace").splitlines()]
    except FileNotFoundError:
        return ""
    # Metric documents (Powertools' embedded format) say nothing of why a process ended.
    recent = [line for line in text[-40:] if line and not line.startswith('{"_aws"')]
    severe = [line for line in recent if any(word in line for word in SEVERE)]
    return " | ".join((severe or recent)[-lines:])


@dataclass
class ManagedProcess:
    """One long-running server process owned by the supervisor."""

    name: str
    argv: Sequence[str]
    log_file: Path
    pid_file: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: int | None = None
    group: int | None = None
    stop_signal: int = signal.SIGTERM
    # Sockets the child inherits: replicas of one service accept on the supervisor's socket.
    pass_fds: Sequence[int] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @classmethod
    def recorded(cls, name: str, log_file: Path, pid_file: Path) -> ManagedProcess:
        """The process a pid file names, to stop it from another invocation than its start."""
        return cls(name=name, argv=[], log_file=log_file, pid_file=pid_file)

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
                user=self.user,
                group=self.group,
                # Another account gets none of our supplementary groups.
                extra_groups=[] if self.user is not None else None,
                # Own group: Ctrl-C reaches the supervisor only, which stops children in order.
                start_new_session=True,
                pass_fds=tuple(self.pass_fds),
            )
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(str(self.process.pid))

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def crash_cause(self) -> str | None:
        """Why the process is gone, or None while it runs (or before it started)."""
        code = self.exit_code()
        if code is None:
            return None
        how = (
            f"was killed by {signal.Signals(-code).name}"
            if code < 0
            else f"exited with code {code}"
        )
        return f"{self.name} {how}: {log_tail(self.log_file) or 'no output'}"

    def wait_until(self, healthy: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cause = self.crash_cause()
            if cause is not None:
                raise LocalCloudError(cause, f"see {self.log_file}")
            if healthy():
                return
            time.sleep(0.2)
        raise LocalCloudError(
            f"{self.name} did not become healthy within {timeout:.0f} s: {log_tail(self.log_file)}",
            f"see {self.log_file}",
        )

    def stop(self) -> None:
        pid = self.process.pid if self.process is not None else read_pid(self.pid_file)
        if pid is not None:
            stop_pid(pid, self.stop_signal)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.pid_file.unlink(missing_ok=True)
