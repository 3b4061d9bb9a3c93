"""The HTTP sender against a real local server."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from hostpulse_agent.config import AgentConfig
from hostpulse_agent.sender import HttpSender, backoff_s, retry_after_s


class Recorder(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    bodies: ClassVar[list[bytes]] = []
    headers_seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(gzip.decompress(body))
        type(self).headers_seen.append(dict(self.headers))
        status, headers, answer = type(self).answers.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    Recorder.answers, Recorder.bodies, Recorder.headers_seen = [], [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def sender_for(url: str) -> HttpSender:
    return HttpSender(AgentConfig(ingest_url=url, token="hp_secret", agent_id="web-1"))


def test_accepted_refused_and_rate_limited_answers(server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{server.server_port}/v1/ingest"
    Recorder.answers = [
        (202, {}, b'{"accepted_seq": 1}'),
        (429, {"Retry-After": "7"}, b'{"error": "rate_limited", "message": "retry in 7 s"}'),
        (422, {}, b'{"error": "invalid_batch", "message": "samples: too short"}'),
        (503, {"Retry-After": "5"}, b'{"message": "queue unavailable"}'),
    ]
    sender = sender_for(url)
    payload = gzip.compress(b'{"seq": 1}')

    accepted, limited, refused, unavailable = (sender.send(payload) for _ in range(4))

    assert (accepted.outcome, accepted.status) == ("accepted", 202)
    assert (limited.outcome, limited.retry_after_s, limited.detail) == (
        "retry",
        7.0,
        "retry in 7 s",
    )
    assert (refused.outcome, refused.detail) == ("rejected", "samples: too short")
    assert (unavailable.outcome, unavailable.retry_after_s) == ("retry", 5.0)
    assert Recorder.bodies[0] == b'{"seq": 1}'


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b""),  # a gateway whose routes are not deployed yet
        (200, b"<html>captive portal</html>"),
        (204, b""),
        (202, b'{"ok": true}'),
        (404, b'{"message": "Not Found"}'),  # a gateway's own 404, not ingest's
        (403, b'{"message": "Missing Authentication Token"}'),
        (404, b"<html>not found</html>"),
    ],
)
def test_answers_that_are_not_from_ingest_keep_the_batch_for_a_retry(
    server: ThreadingHTTPServer, status: int, body: bytes
) -> None:
    Recorder.answers = [(status, {}, body)]

    result = sender_for(f"http://127.0.0.1:{server.server_port}/v1/ingest").send(
        gzip.compress(b"{}")
    )

    assert (result.outcome, result.status) == ("retry", status)


def test_a_refusal_of_the_batch_from_ingest_is_not_retried(server: ThreadingHTTPServer) -> None:
    Recorder.answers = [(422, {}, b'{"error": "invalid_batch", "message": "seq: too big"}')]

    result = sender_for(f"http://127.0.0.1:{server.server_port}/v1/ingest").send(
        gzip.compress(b"{}")
    )

    assert (result.outcome, result.detail) == ("rejected", "seq: too big")


@pytest.mark.parametrize(
    ("status", "error"), [(401, "unauthorized"), (403, "host_not_allowed"), (403, "agent_mismatch")]
)
def test_a_refused_credential_keeps_the_batch_for_when_it_is_fixed(
    server: ThreadingHTTPServer, status: int, error: str
) -> None:
    Recorder.answers = [(status, {}, f'{{"error": "{error}", "message": "no"}}'.encode())]

    result = sender_for(f"http://127.0.0.1:{server.server_port}/v1/ingest").send(
        gzip.compress(b"{}")
    )

    assert (result.outcome, result.status) == ("refused_credential", status)


def test_headers(server: ThreadingHTTPServer) -> None:
    Recorder.answers = [(202, {}, b'{"accepted_seq": 1}')]
    sender_for(f"http://127.0.0.1:{server.server_port}/v1/ingest").send(gzip.compress(b"{}"))
    headers = Recorder.headers_seen[0]
    assert headers["Authorization"] == "Bearer hp_secret"
    assert headers["Content-Encoding"] == "gzip"


def test_an_unreachable_backend_is_a_retry() -> None:
    result = sender_for("http://127.0.0.1:9/v1/ingest").send(b"")

    assert (result.outcome, result.status) == ("retry", 0)
    assert "unreachable" in result.detail


def test_backoff_has_full_jitter_under_a_cap_and_retry_after_takes_dates() -> None:
    waits = [backoff_s(10, base_s=1, cap_s=60) for _ in range(200)]

    assert all(0 <= w <= 60 for w in waits) and max(waits) > 30 and min(waits) < 30
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_s("soon", now=0) is None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_so_the_token_goes_nowhere_else(
    server: ThreadingHTTPServer, status: int
) -> None:
    reached: list[dict[str, str]] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reached.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    other = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        target = f"http://127.0.0.1:{other.server_port}/steal"
        Recorder.answers = [(status, {"Location": target}, b"")]

        result = sender_for(f"http://127.0.0.1:{server.server_port}/v1/ingest").send(
            gzip.compress(b"{}")
        )
    finally:
        other.shutdown()

    assert reached == []
    assert result.outcome == "retry"
    assert "redirected to" in result.detail


class SyncServer(BaseHTTPRequestHandler):
    answers: ClassVar[list[bytes]] = []
    asked: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).asked.append((self.path, json.loads(body)))
        answer = type(self).answers.pop(0)
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_a_sync_goes_beside_ingest_and_only_a_well_formed_answer_is_followed() -> None:
    good = (
        b'{"config_version": 2, "settings": {"top_n": 3}, "commands": [{"id": 1, "kind": "pause"}]}'
    )
    SyncServer.answers = [
        good,
        b'{"config_version": 2, "settings": {}, "commands": [7]}',
        b'{"config_version": 2, "settings": {}, "commands": [{"id": "1", "kind": "pause"}]}',
        b'{"config_version": true, "settings": {}}',
        b'{"config_version": 2, "settings": []}',
    ]
    SyncServer.asked = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SyncServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        sender = sender_for(f"http://127.0.0.1:{httpd.server_port}/prod/v1/ingest")
        answers = [sender.sync({"hostname": "web-1"}) for _ in range(5)]
    finally:
        httpd.shutdown()

    assert answers[0] == json.loads(good)
    assert answers[1:] == [None] * 4
    assert {path for path, _ in SyncServer.asked} == {"/prod/v1/agent/sync"}
