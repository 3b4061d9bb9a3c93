"""HTTP delivery of one spooled batch: what the server said, and whether to try again."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

from hostpulse_agent import __version__
from hostpulse_agent.config import AgentConfig

log = logging.getLogger("hostpulse_agent")
Outcome = Literal["accepted", "retry", "refused_credential", "rejected"]
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0  # after a long outage, back within a minute of the backend
# A refused credential waits for an operator (a rotated token, a host to bind): ask rarely.
CREDENTIAL_BACKOFF_BASE_S = 30.0
CREDENTIAL_BACKOFF_CAP_S = 300.0


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status: int  # 0 when no answer came back
    detail: str
    retry_after_s: float | None = None
    latency_ms: float = 0.0
    config_version: int | None = None  # the central configuration the host should run
    command: int | None = None  # the newest command waiting for this host's agent


def backoff_s(attempt: int, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S) -> float:
    """Exponential backoff with full jitter: uniform between 0 and the capped exponential."""
    return random.uniform(0, min(cap_s, base_s * 2 ** min(attempt, 30)))


def retry_after_s(value: str | None, now: float) -> float | None:
    """Retry-After as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            return None


def classify(status: int, answer: object) -> Outcome:
    """What to do after an answer. Only hostpulse ingest's own answers count: a 2xx must
    acknowledge the batch (``accepted_seq``) and a refusal must name its error. Anything else
    came from something in between (a gateway whose routes are being deployed, a captive
    portal, a proxy) and says nothing about the batch, so it is kept and sent again."""
    from_ingest = isinstance(answer, dict) and ("accepted_seq" in answer or "error" in answer)
    if 200 <= status < 300:
        return "accepted" if from_ingest else "retry"
    if status in (408, 429) or status >= 500 or not from_ingest:
        return "retry"
    if status in (401, 403):
        # The batch is fine; the token or its binding is not (yet): keep it for when it is.
        return "refused_credential"
    return "rejected"  # another 4xx: sending the same bytes again cannot succeed


class RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Ingest never redirects. Following one would send the token (urllib keeps the
    Authorization header) to wherever the redirect points, maybe another origin; a redirect
    means the ingest URL is wrong, so it is reported and the batch kept."""

    def redirect_request(  # noqa: PLR0913, PLR0917 -- urllib's signature, overridden
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        raise urllib.error.HTTPError(
            req.full_url, code, f"redirected to {newurl}; set ingest_url to the real endpoint",
            headers, fp,
        )  # fmt: skip


class HttpSender:
    def __init__(self, config: AgentConfig) -> None:
        self.url = config.ingest_url
        # Beside ingest: …/v1/ingest → …/v1/agent/sync.
        self.sync_url = urllib.parse.urljoin(config.ingest_url, "agent/sync")
        self.timeout_s = config.timeout_s
        self.headers = {
            "Authorization": f"Bearer {config.token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": f"hostpulse-agent/{__version__}",
        }
        context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        if not config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), RefuseRedirects()
        )

    def send(self, payload: bytes) -> SendResult:
        # The URL's scheme was checked to be http or https when the configuration was read.
        request = urllib.request.Request(  # noqa: S310
            self.url, data=payload, headers=self.headers, method="POST"
        )
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=self.timeout_s) as response:
                body = response.read(4096)
                status = response.status
                header = response.headers.get("Retry-After")
        except urllib.error.HTTPError as error:
            if 300 <= error.code < 400:  # refused by RefuseRedirects: the batch is kept
                return SendResult("retry", error.code, str(error.reason))
            body, status, header = error.read(4096), error.code, error.headers.get("Retry-After")
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return SendResult("retry", 0, f"unreachable: {reason}")
        latency = (time.monotonic() - started) * 1000
        answer = _json(body)
        outcome = classify(status, answer)
        detail = _message(body, answer)
        if outcome == "retry" and 200 <= status < 300:
            detail = f"a {status} that does not acknowledge the batch: {detail or 'empty body'}"
        return SendResult(
            outcome,
            status,
            detail,
            retry_after_s(header, time.time()),
            latency,
            _count(answer, "config_version"),
            _count(answer, "command"),
        )

    def sync(self, asked: dict[str, Any]) -> dict[str, Any] | None:
        """The central configuration for this host: ``{"config_version", "settings"}``, or
        None when the server could not say (the agent keeps what it runs and asks again)."""
        request = urllib.request.Request(  # noqa: S310 -- checked to be http(s) at start
            self.sync_url,
            data=json.dumps(asked).encode(),
            headers={**self.headers, "Content-Encoding": "identity"},
            method="POST",
        )
        try:
            with self.opener.open(request, timeout=self.timeout_s) as response:
                answer = _json(response.read(1024 * 1024))
        except (urllib.error.URLError, OSError) as error:
            log.warning("configuration sync failed", extra={"reason": str(error)})
            return None
        commands = answer.get("commands", []) if isinstance(answer, dict) else None
        if (
            isinstance(answer, dict)
            and _count(answer, "config_version") is not None
            and isinstance(answer.get("settings"), dict)
            and isinstance(commands, list)
            and all(
                isinstance(c, dict)
                and _count(c, "id") is not None
                and isinstance(c.get("kind"), str)
                for c in commands
            )
        ):
            return answer
        log.warning("configuration sync answered without one", extra={"answer": str(answer)[:300]})
        return None


def _count(answer: object, key: str) -> int | None:
    value = answer.get(key) if isinstance(answer, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _json(body: bytes) -> object:
    try:
        answer: object = json.loads(body)
    except ValueError:
        return None
    return answer


def _message(body: bytes, answer: object) -> str:
    if isinstance(answer, dict):
        return str(answer.get("message") or answer.get("error") or answer)[:300]
    if answer is None:
        return body.decode("utf-8", "replace")[:300]
    return str(answer)[:300]
