"""The process runtime's copies: a shared socket, restarts within a budget, health from files."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest
import requests

from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.processes import BACKGROUND_NICENESS, ensure_port_free
from hostpulse.localcloud.replicas import (
    RESTARTS_PER_WINDOW,
    Replicas,
    listening_socket,
    replicas_health,
)
from tests.support import eventually, free_port, pid_alive

# A server that answers with its own pid on the socket it inherits (as uvicorn --fd does).
SERVER = """
import os, socket, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Answer(BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
server = HTTPServer(("127.0.0.1", 0), Answer, bind_and_activate=False)
server.socket = socket.socket(fileno=int(sys.argv[1]))
server.serve_forever()
"""


def replicas(tmp_path: Path, commands: list[list[str]], **kwargs: object) -> Replicas:
    paths = StatePaths(tmp_path)
    paths.create()
    told: list[str] = []
    made = Replicas(
        name="copies", paths=paths, commands=commands, environment={}, report=told.append,
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    made.told = told  # type: ignore[attr-defined]
    return made


def test_copies_share_the_supervisors_socket_and_one_killed_is_replaced(tmp_path: Path) -> None:
    port = free_port()
    listen = listening_socket(port, "copies", "HOSTPULSE_TEST_PORT")
    command = [sys.executable, "-c", SERVER, str(listen.fileno())]
    service = replicas(
        tmp_path, [command, command], probes=[f"http://127.0.0.1:{port}/"], listen=listen
    )
    service.start()
    try:
        first = {n: p.process.pid for n, p in service.copies.items() if p.process}
        answered = {requests.get(f"http://127.0.0.1:{port}/", timeout=5).text for _ in range(40)}
        assert answered <= {str(pid) for pid in first.values()}
        # The pipeline yields the cores to the dashboard's reads.
        assert {psutil.Process(pid).nice() for pid in first.values()} == {BACKGROUND_NICENESS}

        service.copies[1].process.kill()  # type: ignore[union-attr]
        service.copies[1].process.wait()  # type: ignore[union-attr]
        assert service.crash() is None  # brought back, not given up
        assert service.copies[1].process.pid != first[1]  # type: ignore[union-attr]
        assert service.copies[2].process.pid == first[2]  # type: ignore[union-attr]
        assert "copies-1 was killed by SIGKILL" in service.told[0]  # type: ignore[attr-defined]
        # The new copy accepts on the same socket: the port answers throughout.
        for _ in range(20):
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        health = replicas_health(service.paths, "copies", 2, service.probes)
        assert health.healthy
        assert health.detail == "2 of 2 running, 1 of 1 ready"
    finally:
        service.stop()
    assert not any(pid_alive(pid) for pid in first.values())
    assert not replicas_health(service.paths, "copies", 2, []).healthy
    ensure_port_free(port, "copies", "HOSTPULSE_TEST_PORT")  # closed with the service


def test_a_copy_that_keeps_dying_stops_the_restarts_with_its_cause(tmp_path: Path) -> None:
    failing = [sys.executable, "-c", "import sys; print('bad setting: X'); sys.exit(3)"]
    service = replicas(tmp_path, [failing], probes=[])
    service.start()
    try:
        causes = []
        for _ in range(RESTARTS_PER_WINDOW + 1):
            eventually(lambda: service.copies[1].exit_code() is not None, timeout=10)
            causes.append(service.crash())
        assert causes[:-1] == [None] * RESTARTS_PER_WINDOW
        assert str(causes[-1]).startswith("copies exited with code 3: bad setting: X")
        assert str(causes[-1]).endswith(f"({RESTARTS_PER_WINDOW} restarts in 10 min)")
    finally:
        service.stop()


def test_a_copy_that_never_becomes_ready_fails_the_start_with_its_log(tmp_path: Path) -> None:
    failing = [sys.executable, "-c", "raise SystemExit('no database at HOSTPULSE_DATABASE_URL')"]
    service = replicas(tmp_path, [failing], probes=[f"http://127.0.0.1:{free_port()}/"])
    with pytest.raises(Exception, match="no database at HOSTPULSE_DATABASE_URL"):
        service.start()
    service.stop()
