"""RuntimeExecutor that runs one Lambda execution environment as one host process.

LocalStack owns the lifecycle (how many environments, when to reuse or retire one); this class
owns one process: it starts ``bootstrap.py`` with the project's interpreter and the function's
code and environment, forwards invocations to it, enforces the configured timeout, captures
stdout/stderr as the function's logs and makes sure nothing outlives ``stop()``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from pathlib import Path

import requests
from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from localstack.utils.net import get_free_tcp_port

from hostpulse_lambda_executor.logs import ProcessLogs

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
LOOPBACK = "127.0.0.1"
# Variables a host process needs to behave; everything else comes from the function's config.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SYSTEMROOT")
STOP_GRACE_SECONDS = 2.0
# Starting a runtime is CPU-bound (imports). LocalStack starts up to 16 at once; on a small
# machine that makes all of them slow together, so starts beyond the core count wait their turn.
STARTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
LOG_DRAIN_SECONDS = 2.0


def function_python() -> str:
    """Interpreter that runs the functions: the project's, handed to LocalStack by the launcher."""
    return os.environ.get("HOSTPULSE_LAMBDA_PYTHON") or sys.executable


def function_log_dir() -> Path | None:
    value = os.environ.get("HOSTPULSE_LAMBDA_LOG_DIR")
    return Path(value) if value else None


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class HostProcessRuntimeExecutor(RuntimeExecutor):  # type: ignore[misc]
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(id, container_address=LOOPBACK)
        self.process: subprocess.Popen[bytes] | None = None
        self.process_env: dict[str, str] = {}
        self.logs = ProcessLogs(self._log_file())
        self._invoke_lock = threading.Lock()
        self._stopped = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        self.process_env = self._build_env(env_vars)
        self.executor_endpoint.start()
        with STARTS:
            self._spawn()
            self.executor_endpoint.wait_for_startup()

    def stop(self) -> None:
        self._stopped.set()
        self._terminate()
        try:
            self.executor_endpoint.shutdown()
        except Exception as error:  # the endpoint may never have registered
            LOG.debug("executor endpoint %s shutdown: %s", self.id, error)
        self.logs.close()

    def _spawn(self) -> None:
        port = get_free_tcp_port()
        self.executor_endpoint.container_port = port
        env = dict(self.process_env, HOSTPULSE_RUNTIME_PORT=str(port))
        code_dir = env["LAMBDA_TASK_ROOT"]
        self.process = subprocess.Popen(
            [function_python(), "-u", "-P", str(BOOTSTRAP)],
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own process group: stop() takes down anything the function itself spawned.
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self.logs.attach(self.process.stdout)
        threading.Thread(
            target=self._watch, args=(self.process,), name=f"lambda-watch-{self.id}", daemon=True
        ).start()
        LOG.debug("execution environment %s runs as pid %s", self.id, self.process.pid)

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        """Turn an unexpected exit into the error LocalStack waits for, instead of a hang."""
        code = process.wait()
        if self._stopped.is_set() or process is not self.process:
            return
        startup = self.executor_endpoint.startup_future
        if startup is not None and not startup.done():
            tail = self.logs.tail()
            startup.set_exception(
                StatusErrorException(
                    "Environment startup failed",
                    payload=error_payload(
                        "Runtime.ExitError",
                        f"Runtime exited with error: exit status {code}\n{tail}",
                    ),
                )
            )
        invocation = self.executor_endpoint.invocation_future
        if invocation is not None and not invocation.done():
            invocation.set_result(
                InvocationResult(
                    request_id=self.logs.current_request or "",
                    payload=error_payload(
                        "Runtime.ExitError", f"Runtime exited with error: exit status {code}"
                    ),
                    is_error=True,
                    logs=self.logs.invocation(self.logs.current_request or ""),
                )
            )

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _restart(self) -> None:
        """A timed-out or crashed environment is replaced by a fresh process, as Lambda does."""
        self._terminate()
        self.executor_endpoint.startup_future = Future()
        with STARTS:
            self._spawn()
            self.executor_endpoint.wait_for_startup()

    # -- invocations -----------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        with self._invoke_lock:
            if self.process is None or self.process.poll() is not None:
                try:
                    self._restart()
                except StatusErrorException as error:
                    return InvocationResult(request_id, error.payload, is_error=True, logs="")
            timeout = float(self.function_version.config.timeout)
            self.logs.begin(request_id)
            self.logs.write_line(f"START RequestId: {request_id} Version: {self._version()}")
            endpoint = self.executor_endpoint
            endpoint.invocation_future = Future()
            endpoint.logs = None
            started = time.monotonic()
            response = requests.post(
                f"http://{LOOPBACK}:{endpoint.container_port}/invoke",
                json=payload,
                proxies={"http": "", "https": ""},
                timeout=10,
            )
            if not response.ok:
                raise LambdaRuntimeException(f"runtime refused invocation: {response.status_code}")
            remaining = max(0.0, timeout - (time.monotonic() - started))
            try:
                result: InvocationResult = endpoint.invocation_future.result(timeout=remaining)
            except FutureTimeout:
                return self._timed_out(request_id, timeout, started)
            self.logs.wait_for_end(request_id, LOG_DRAIN_SECONDS)
            result.logs = self.logs.invocation(request_id) + self._close(request_id, started)
            return result

    def _version(self) -> str:
        return str(self.function_version.id.qualifier)

    def _close(self, request_id: str, started: float, before: tuple[str, ...] = ()) -> str:
        """The closing lines Lambda writes for every invocation, logged and returned."""
        duration_ms = (time.monotonic() - started) * 1000
        memory = self.function_version.config.memory_size
        lines = [
            *before,
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Memory Size: {memory} MB",
        ]
        for line in lines:
            self.logs.write_line(line)
        return "".join(line + "\n" for line in lines)

    def _timed_out(self, request_id: str, timeout: float, started: float) -> InvocationResult:
        # Kill first so the handler cannot post a late response to a finished invocation.
        self._terminate()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        message = f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"
        logs = self.logs.invocation(request_id) + self._close(request_id, started, (message,))
        return InvocationResult(
            request_id, error_payload("Sandbox.Timedout", message), is_error=True, logs=logs
        )

    # -- addresses and environment ---------------------------------------------------------

    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        return LOOPBACK

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{LOOPBACK}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        return self.logs.all()

    def _code_dir(self) -> str:
        return str(self.function_version.config.code.get_unzipped_code_location())

    def _build_env(self, env_vars: dict[str, str]) -> dict[str, str]:
        env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        env.update({key: str(value) for key, value in env_vars.items()})
        code_dir = self._code_dir()
        env["LAMBDA_TASK_ROOT"] = code_dir
        env["PYTHONPATH"] = code_dir
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["HOSTPULSE_PARENT_PID"] = str(os.getpid())
        return env

    def _log_file(self) -> Path | None:
        directory = function_log_dir()
        if directory is None:
            return None
        return directory / f"{self.function_version.id.function_name}.log"

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing is built per version; the unzipped code is LocalStack's to remove."""

    @classmethod
    def validate_environment(cls) -> bool:
        python = function_python()
        if not Path(python).exists():
            LOG.error("HOSTPULSE_LAMBDA_PYTHON=%s does not exist; Lambda cannot run", python)
            return False
        return True
