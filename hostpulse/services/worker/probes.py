"""Liveness and readiness over HTTP, for Kubernetes' probes: ``/livez`` fails when a handler
has run past its function's timeout or the loop has stopped coming round (restart me),
``/readyz`` until the queue has answered (do not count me yet)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hostpulse.services.worker.consumer import Vitals

# The kubelet probes from outside the pod's loopback.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


def serve_probes(
    vitals: Vitals, timeout_s: float, port: int, host: str = ALL_INTERFACES
) -> ThreadingHTTPServer:
    class Probes(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/livez":
                healthy = vitals.alive(timeout_s)
            elif self.path == "/readyz":
                healthy = vitals.queue_answered
            else:
                self.send_error(404)
                return
            with vitals.lock:
                body = {"ok": healthy, "batches": vitals.batches, "messages": vitals.messages,
                        "failed": vitals.failed}  # fmt: skip
            data = json.dumps(body).encode()
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Probes every few seconds would drown the worker's own log."""

    server = ThreadingHTTPServer((host, port), Probes)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
