"""Running the real local cloud from tests, the way a user does: through the CLI."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import requests
import yaml

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Batch
from hostpulse.localcloud.api_server import ApiGuard, ApiServer
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.agents.tokens import register_agent

T = TypeVar("T")
HOSTPULSE = [sys.executable, "-m", "hostpulse.cli.main"]


def post(url: str, body: bytes, token: str | None, **headers: str) -> requests.Response:
    all_headers = {"Content-Type": "application/json", **headers}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, data=body, headers=all_headers, timeout=60)


def registered_agent(cloud: CloudUnderTest, prefix: str) -> tuple[str, str]:
    """A fresh agent registered on the cloud's database: (name, token)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    connector = PgConnector(cloud.endpoints["database_url"])
    try:
        return name, register_agent(PgAgentRepository(connector), name)
    finally:
        connector.close()


def post_batch(cloud: CloudUnderTest, batch: Batch, token: str) -> requests.Response:
    """One batch to the cloud's ingest endpoint, gzipped, as an agent sends it."""
    body = gzip.compress(batch.model_dump_json().encode())
    return post(cloud.endpoints["ingest_url"], body, token, **{"Content-Encoding": "gzip"})


class WebhookReceiver:
    """A local HTTP endpoint recording each JSON POST with its arrival (perf_counter)."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.received: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append((time.perf_counter(), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_cloud_settings(state_dir: Path) -> dict[str, str]:
    """A local cloud of its own: its state folder and free ports for every server."""
    return {
        "HOSTPULSE_STATE_DIR": str(state_dir),
        "HOSTPULSE_LOCALSTACK_PORT": str(free_port()),
        "HOSTPULSE_POSTGRES_PORT": str(free_port()),
        "HOSTPULSE_REDIS_PORT": str(free_port()),
        "HOSTPULSE_API_PORT": str(free_port()),
        "HOSTPULSE_INGEST_PORT": str(free_port()),
        # The tests stand where a proxy would: each sends as a client address of its own, so
        # one test's failed sign-ins (the API fuzzing's) do not throttle another's.
        "HOSTPULSE_TRUSTED_PROXIES": "127.0.0.1",
    }


def per_worker(name: str) -> str:
    """A state folder's name of its own for each worker of a parallel run (`make test-all`)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{name}-{worker}" if worker else name


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
            **local_cloud_settings(state_dir),
            # The one other origin allowed to read the API: the static-site dashboard's. Another
            # site than the API's (127.0.0.1), as a static site's usually is: its sign-in
            # needs the cross-site cookie.
            "HOSTPULSE_CORS_ORIGINS": f"http://localhost:{free_port()}",
        }
        for inherited in ("HOSTPULSE_DATABASE_URL", "HOSTPULSE_REDIS_URL", "AWS_ENDPOINT_URL"):
            env.pop(inherited, None)
        return cls(state_dir, env)

    def cli(
        self, *args: str, timeout: float = 600, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HOSTPULSE, *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=PROJECT_ROOT,
            input=stdin,
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
    def static_site_origin(self) -> str:
        return self.env["HOSTPULSE_CORS_ORIGINS"]

    @property
    def static_site_port(self) -> int:
        return int(self.static_site_origin.rsplit(":", 1)[1])

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


class TcpProxy:
    """A loopback TCP forwarder that a test can take away and bring back on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.close()
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def replace_database(database_url: str, *, create: bool = True) -> None:
    """Drops the database a URL names, its sessions with it, and (unless told not to) creates
    it again empty: what a restore onto a new server leaves behind the same URL."""
    server, name = database_url.rsplit("/", 1)
    conn = psycopg2.connect(f"{server}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def function_env(cloud: CloudUnderTest) -> dict[str, str]:
    """The functions' own environment, as a Kubernetes Deployment or CronJob gives it."""
    endpoints = cloud.endpoints
    return {
        **cloud.env,
        "HOSTPULSE_DATABASE_URL": endpoints["database_url"],
        "HOSTPULSE_REDIS_URL": endpoints["redis_url"],
        "HOSTPULSE_ARCHIVE_BUCKET": endpoints["buckets"]["archive"],
        "AWS_ENDPOINT_URL": endpoints["aws_endpoint_url"],
        "AWS_REGION": endpoints["region"],
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


@dataclass
class WorkerProcess:
    """`hostpulse worker …` as a container runs it. Its output goes to a file: a pipe nobody
    reads fills up and stalls the worker."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], log: Path, *args: str) -> WorkerProcess:
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*HOSTPULSE, "worker", *args], env=env, stdout=output, stderr=subprocess.STDOUT
            )
        return cls(process, log)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> str:
        """SIGTERM, as Kubernetes stops a pod; it must finish and exit 0."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=90)
        assert code == 0, self.output
        return self.output


def stack_variant(directory: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The shipped stack description with ``change`` applied, written to ``directory``
    (function sources made absolute, so that it deploys from there)."""
    stack: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "stack" / "stack.yaml").read_text())
    change(stack)
    for spec in stack["functions"].values():
        spec["source"] = [str(PROJECT_ROOT / s.removeprefix("../")) for s in spec["source"]]
    path = directory / "stack.yaml"
    path.write_text(yaml.safe_dump(stack))
    return path


# How long the functions keep the alert rules they read: the product's setting, short here so
# that a test that changes the rules waits a moment for them, not the shipped 15 s.
RULES_CACHE_S = 1


def quick_rules(stack: dict[str, Any]) -> None:
    for spec in stack["functions"].values():
        spec["environment"] = {
            **spec.get("environment", {}),
            "HOSTPULSE_RULES_CACHE_SECONDS": str(RULES_CACHE_S),
        }


@contextmanager
def dashboard_api(
    cloud: CloudUnderTest,
    state: Path,
    extra: Mapping[str, str] | None = None,
    trusted_proxies: str = "127.0.0.1",
) -> Iterator[ApiServer]:
    """An API server of its own on the local cloud's stores; ``extra``: more of its settings
    (HOSTPULSE_…); ``trusted_proxies``: whose X-Forwarded-For it believes (by default the
    tests', which stand where a proxy would)."""
    paths = StatePaths(state)
    paths.create()
    server = ApiServer(paths, free_port(), trusted_proxies)
    server.configure(
        cloud.endpoints["database_url"],
        cloud.endpoints["redis_url"],
        cors_origins="",
        guard=ApiGuard(secrets.token_urlsafe(24), read_token="", public_read=None).environment(),
        pipeline={},  # the pipeline view watches no queue here
    )
    server.environment.update(extra or {})
    server.start()
    try:
        yield server
    finally:
        server.stop()
