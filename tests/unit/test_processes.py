from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.processes import ensure_port_free, log_tail, stop_pid
from tests.support import eventually, pid_alive


def test_a_port_in_use_names_the_setting_to_change() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(LocalCloudError) as error:
            ensure_port_free(port, "Redis", "HOSTPULSE_REDIS_PORT")

    assert f"port {port} for Redis is taken by" in str(error.value)
    assert "HOSTPULSE_REDIS_PORT" in str(error.value)
    ensure_port_free(port, "Redis", "HOSTPULSE_REDIS_PORT")  # free again once released


def test_stopping_a_process_group_takes_its_children_too(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    leader = subprocess.Popen(
        ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; trap '' TERM; wait"],
        start_new_session=True,
    )

    def child_pid() -> str | None:
        return pid_file.read_text().strip() if pid_file.exists() else None

    child = int(eventually(child_pid, timeout=10))

    started = time.monotonic()
    stop_pid(leader.pid, grace_seconds=1)
    leader.wait(timeout=10)

    assert time.monotonic() - started < 10
    eventually(lambda: not pid_alive(child), timeout=10)


def test_log_tail_prefers_the_fatal_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("starting\nFATAL: data directory has wrong ownership\nshutting down\n")

    assert log_tail(log) == "FATAL: data directory has wrong ownership"
    assert log_tail(tmp_path / "missing.log") == ""


def test_a_process_that_leads_no_group_is_still_stopped() -> None:
    # A foreground `hostpulse up` shares its shell's group; `hostpulse down` must reach it.
    process = subprocess.Popen(["sleep", "300"])

    stop_pid(process.pid, grace_seconds=5)

    assert process.wait(timeout=10) == -15
