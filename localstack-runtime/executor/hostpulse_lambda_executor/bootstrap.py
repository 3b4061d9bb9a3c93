"""Lambda runtime for one execution environment, run by the project's interpreter.

Standard library only. It plays the part of Lambda's runtime-init: it listens for
``POST /invoke`` from LocalStack on a loopback port, runs the handler on the main thread (ASGI
adapters such as Mangum need the main thread's event loop) and reports readiness, results and
errors to LocalStack's executor endpoint.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

END_MARKER = "\x1ehostpulse-end "
PARENT_POLL_SECONDS = 1.0


class LambdaContext:
    """The attributes and method AWS's Python runtime gives a handler."""

    def __init__(self, request_id: str, invoked_arn: str, deadline: float) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


class RuntimeApi:
    """Calls back into LocalStack's executor endpoint."""

    def __init__(self) -> None:
        self.base = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
        self.runtime_id = os.environ["LOCALSTACK_RUNTIME_ID"]

    def _post(self, path: str, body: bytes) -> None:
        # The base is LocalStack's loopback executor endpoint, set by the executor: always http.
        request = urllib.request.Request(  # noqa: S310
            self.base + path, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            response.read()

    def ready(self) -> None:
        self._post(f"/status/{self.runtime_id}/ready", b"{}")

    def init_error(self, payload: dict[str, Any]) -> None:
        self._post(f"/status/{self.runtime_id}/error", json.dumps(payload).encode())

    def response(self, request_id: str, body: bytes) -> None:
        self._post(f"/invocations/{request_id}/response", body)

    def error(self, request_id: str, payload: dict[str, Any]) -> None:
        self._post(f"/invocations/{request_id}/error", json.dumps(payload).encode())


def error_body(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        # The first frame is this runtime's own call into the handler: not the user's code.
        "stackTrace": traceback.format_tb(error.__traceback__)[1:],
    }


def load_handler(spec: str) -> Callable[[Any, LambdaContext], Any]:
    module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{spec}': expected module.function")
    module = importlib.import_module(module_name)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise AttributeError(f"Handler '{attribute}' missing on module '{module_name}'")
    return handler  # type: ignore[no-any-return]


def serve_invocations(port: int, inbox: queue.Queue[dict[str, Any]]) -> ThreadingHTTPServer:
    class InvokeHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/invoke":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            inbox.put(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Request lines are noise in the function's log."""

    server = ThreadingHTTPServer(("127.0.0.1", port), InvokeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def exit_with_parent() -> None:
    """No orphans: if LocalStack dies without stopping us, we go too."""
    parent = int(os.environ.get("HOSTPULSE_PARENT_PID", "0"))
    while parent:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def end_invocation(request_id: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, f"{END_MARKER}{request_id}\n".encode())


def run_one(
    api: RuntimeApi, handler: Callable[[Any, LambdaContext], Any], invocation: dict[str, Any]
) -> None:
    request_id = invocation["invoke-id"]
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    context = LambdaContext(request_id, invocation["invoked-function-arn"], time.time() + timeout)
    os.environ["_X_AMZN_TRACE_ID"] = invocation.get("trace-id") or ""
    try:
        event = json.loads(invocation["payload"] or "null")
        result = handler(event, context)
        body = json.dumps(result).encode()
    except Exception as error:  # the function's failure is data for the caller
        traceback.print_exc()
        end_invocation(request_id)
        api.error(request_id, error_body(error))
        return
    end_invocation(request_id)
    api.response(request_id, body)


def main() -> None:
    threading.Thread(target=exit_with_parent, daemon=True).start()
    api = RuntimeApi()
    inbox: queue.Queue[dict[str, Any]] = queue.Queue()
    serve_invocations(int(os.environ["HOSTPULSE_RUNTIME_PORT"]), inbox)
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Exception as error:
        traceback.print_exc()
        api.init_error(error_body(error, "Runtime.ImportModuleError"))
        sys.exit(1)
    api.ready()
    while True:
        run_one(api, handler, inbox.get())


if __name__ == "__main__":
    main()
