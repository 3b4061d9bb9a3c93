"""Synthetic agents sending through the real ingest endpoint, as real agents do.

Each host runs on its own thread: it samples on a drift-free schedule, sends a gzip batch every
``send_every_s`` with its own token and a sequence number that only grows, retries 5xx and
connection errors with full-jitter backoff and obeys 429's Retry-After. A batch keeps its
sequence number through every retry. As the real agent does, only ingest's own answers count:
a 4xx from something in between (a gateway whose routes are being deployed) is retried.
"""

from __future__ import annotations

import gzip
import json
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from hostpulse.core.contract import Batch
from hostpulse.simulation.host import SyntheticHost
from hostpulse.simulation.ports import Transport


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def from_ingest(body: bytes) -> bool:
    """Whether ingest itself answered: it acknowledges a batch or names its error."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and ("accepted_seq" in answer or "error" in answer)


@dataclass
class SimulatedAgent:
    host: SyntheticHost
    token: str


@dataclass
class SimulationStats:
    batches: int = 0
    samples: int = 0
    retries: int = 0
    rate_limited: int = 0
    rejected: int = 0
    given_up: int = 0  # batches still refused when ``give_up_after_s`` ran out: lost
    latencies_ms: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self) -> dict[str, object]:
        latencies = sorted(self.latencies_ms) or [0.0]
        return {
            "batches": self.batches,
            "samples": self.samples,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "rejected": self.rejected,
            "given_up": self.given_up,
            "latency_p50_ms": round(statistics.median(latencies), 1),
            "latency_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "failures": dict(self.failures),
        }


def backoff_s(attempt: int, base_s: float = 0.5, cap_s: float = 30.0) -> float:
    """Full jitter: uniform between 0 and the capped exponential."""
    return random.uniform(0, min(cap_s, base_s * 2**attempt))


class Simulation:
    def __init__(  # noqa: PLR0913, PLR0917 -- a run is its agents, transport and schedule
        self,
        agents: list[SimulatedAgent],
        ingest_url: str,
        transport: Transport,
        interval_s: float,
        send_every_s: float,
        duration_s: float,
        on_accepted: Callable[[Batch], None] | None = None,
        give_up_after_s: float = 120.0,
    ) -> None:
        self.agents = agents
        self.ingest_url = ingest_url
        self.transport = transport
        self.interval_s = interval_s
        self.send_every_s = send_every_s
        self.duration_s = duration_s
        self.on_accepted = on_accepted
        self.give_up_after_s = give_up_after_s
        self.stats = SimulationStats()
        self.stopping = threading.Event()

    def run(self) -> SimulationStats:
        threads = [
            threading.Thread(target=self._run_agent, args=(agent,), daemon=True)
            for agent in self.agents
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.stats

    def _run_agent(self, agent: SimulatedAgent) -> None:
        start = time.time()
        # Hosts start spread over one interval, as a real fleet does.
        tick = start + random.uniform(0, self.interval_s)
        pending: list[int] = []
        last_send = start
        while tick < start + self.duration_s and not self.stopping.is_set():
            time.sleep(max(0.0, tick - time.time()))
            pending.append(int(tick * 1000))
            tick += self.interval_s  # drift-free: the schedule, not the last wake-up
            if time.time() - last_send >= self.send_every_s:
                self._send(agent, agent.host.batch(pending))
                pending, last_send = [], time.time()
        if pending:
            self._send(agent, agent.host.batch(pending))

    def _send(self, agent: SimulatedAgent, batch: Batch) -> None:
        body = gzip.compress(batch.model_dump_json().encode())
        headers = {
            "Authorization": f"Bearer {agent.token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        deadline = time.time() + self.give_up_after_s
        attempt = 0
        while time.time() < deadline:
            started = time.perf_counter()
            try:
                status, response_headers, answer = self.transport.post(
                    self.ingest_url, body, headers
                )
            except OSError as error:
                status, response_headers, answer = 0, {}, b""
                with self.stats.lock:
                    reason = type(error.__cause__ or error).__name__
                    self.stats.failures[reason] = self.stats.failures.get(reason, 0) + 1
            ours = from_ingest(answer)
            if status == 202 and ours:
                with self.stats.lock:
                    self.stats.batches += 1
                    self.stats.samples += len(batch.samples)
                    self.stats.latencies_ms.append((time.perf_counter() - started) * 1000)
                if self.on_accepted is not None:
                    self.on_accepted(batch)
                return
            if 400 <= status < 500 and status not in (408, 429) and ours:
                with self.stats.lock:
                    self.stats.rejected += 1
                return  # retrying cannot fix a bad batch or a bad token
            with self.stats.lock:
                self.stats.retries += 1
                self.stats.rate_limited += status == 429
                if status:
                    key = f"http_{status}" if ours or status >= 500 else f"http_{status}_not_ingest"
                    self.stats.failures[key] = self.stats.failures.get(key, 0) + 1
            retry_after = response_headers.get("Retry-After") or response_headers.get("retry-after")
            wait = float(retry_after) if status == 429 and retry_after else backoff_s(attempt)
            attempt += 1
            time.sleep(wait)
        with self.stats.lock:
            self.stats.given_up += 1


class RequestsTransport:
    def __init__(self, timeout_s: float = 30.0) -> None:  # API Gateway gives up at 29 s
        import requests

        self.session = requests.Session()
        self.timeout_s = timeout_s
        self.errors = (requests.RequestException,)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout_s)
        except self.errors as error:
            raise OSError(str(error)) from error
        return Reply(response.status_code, dict(response.headers), response.content)


class AgentBook:
    """Tokens and next sequence numbers of simulated agents, kept between runs (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, object]] = (
            json.loads(path.read_text()) if path.exists() else {}
        )

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries, indent=1))
        temporary.chmod(0o600)
        temporary.replace(self.path)
