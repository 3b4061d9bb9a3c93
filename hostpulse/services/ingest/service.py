"""Accepting a batch: validate, authenticate, rate-limit, enqueue, then the hot tier.

The answer is 202 only once both queues hold the batch; without them it is 503 and the agent
retries. Redis is best effort: its failures are counted, not returned. The archive is written
by aggregation, a whole SQS batch per object, off the agent's path; only a batch too big for
SQS is archived here, because the queue then carries a reference to it.
"""

from __future__ import annotations

import gzip
import logging
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hostpulse.core.best_effort import Guard
from hostpulse.core.contract import AgentSync, Batch
from hostpulse.core.envelope import envelope_for
from hostpulse.core.ports import Archive, AuthThrottle, Counters, MetadataStore
from hostpulse.core.seed_compat import SeedSnapshot, seed_batch
from hostpulse.services.agents.control import AgentControl
from hostpulse.services.agents.tokens import AGENT_NAME, AgentGrant
from hostpulse.services.ingest.budget import MemorySeriesBudget, without
from hostpulse.services.ingest.otlp.counters import MemoryCounterStore
from hostpulse.services.ingest.ports import (
    AgentDirectory,
    BatchQueue,
    CounterStore,
    HotStore,
    IngestMeter,
    RateLimiter,
    SeriesBudget,
)

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True)
class IngestLimits:
    max_body_bytes: int = 1024 * 1024
    max_decompressed_bytes: int = 8 * 1024 * 1024
    max_future_ms: int = 5 * 60 * 1000
    max_age_ms: int = 24 * 3600 * 1000  # the raw tier's age: older samples have no home
    # Hosts one OTLP request may name: each is a batch to queue, counted in the sender's rate
    # as one, so a request past what the rate lets through at once could never be admitted.
    max_hosts_per_request: int = 30
    series_per_host: int = 10_000  # distinct custom series of a host (see budget.py)


@dataclass(frozen=True)
class IngestRequest:
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    received_ms: int
    source: str = ""  # the client's address, as the gateway saw it


@dataclass(frozen=True)
class IngestResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body encoded otherwise than as JSON (OTLP's protobuf)
    samples: int = 0  # how many samples the answer accepted


class Rejected(Exception):
    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.response = IngestResponse(status, {"error": error, "message": message}, headers or {})

    @classmethod
    def too_soon(cls, error: str, wait_s: float, why: str = "") -> Rejected:
        """A 429 the agent obeys: whole seconds, at least one, in the body and Retry-After."""
        seconds = max(1, round(wait_s + 0.499))
        rejected = cls(429, error, f"{why}retry in {seconds} s", {"Retry-After": str(seconds)})
        rejected.response.body["retry_after_s"] = seconds
        return rejected


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise Rejected(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not gzip")
    try:
        # Bounded: a small gzip bomb must not expand past the limit in memory.
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise Rejected(413, "too_large", f"decompressed body exceeds {limit} bytes")
        if not inflater.eof:
            raise Rejected(400, "bad_gzip", "gzip stream is truncated")
    except (zlib.error, gzip.BadGzipFile) as error:
        raise Rejected(400, "bad_gzip", f"body is not valid gzip: {error}") from None
    return data


def validation_message(error: ValidationError) -> str:
    parts = []
    for problem in error.errors()[:5]:
        where = ".".join(str(p) for p in problem["loc"]) or "body"
        parts.append(f"{where}: {problem['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _validated(model: type[Model], body: bytes, error: str) -> Model:
    """Malformed JSON is a 400; JSON that does not fit the model, a 422 naming the fields."""
    try:
        return model.model_validate_json(body)
    except ValidationError as problem:
        if any(e["type"] == "json_invalid" for e in problem.errors()):
            raise Rejected(400, "bad_json", validation_message(problem)) from None
        raise Rejected(422, error, validation_message(problem)) from None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return headers.get("x-agent-token") or None


class IngestService:
    def __init__(  # noqa: PLR0913, PLR0917 -- one adapter per port, each replaceable in tests
        self,
        agents: AgentDirectory,
        limiter: RateLimiter,
        queue: BatchQueue,
        hot: HotStore,
        archive: Archive,
        counters: Counters,
        limits: IngestLimits | None = None,
        auth_throttle: AuthThrottle | None = None,
        redis_guard: Guard | None = None,
        meter: IngestMeter | None = None,
        control: AgentControl | None = None,
        counter_store: CounterStore | None = None,
        series_budget: SeriesBudget | None = None,
        metadata: MetadataStore | None = None,
    ) -> None:
        self.agents = agents
        self.auth_throttle = auth_throttle
        self.limiter = limiter
        self.queue = queue
        self.hot = hot
        self.archive = archive
        self.counters = counters
        self.limits = limits or IngestLimits()
        # One guard for everything on Redis: when it is away, it is away for all of them.
        self.redis = redis_guard or Guard(counters)
        self.meter = meter
        self.control = control
        # OTLP senders' counters between requests; without Redis, this process' memory.
        self.counter_store = counter_store or MemoryCounterStore()
        self.series_budget = series_budget or MemorySeriesBudget()
        self.metadata = metadata  # what remote-write senders say of their metrics

    def ingest(self, request: IngestRequest) -> IngestResponse:
        """POST /v1/ingest: one wire-contract batch."""
        return self.handle(request, lambda r: self._answer(r, self._batch))

    def ingest_seed(self, request: IngestRequest) -> IngestResponse:
        """POST /ingest/metrics: the seed platform's single snapshot, same path from here."""
        return self.handle(request, lambda r: self._answer(r, self._seed_batch))

    def sync(self, request: IngestRequest) -> IngestResponse:
        """POST /v1/agent/sync: the central configuration the agent's host should run."""
        try:
            grant, body = self.authenticated_body(request)
            asked = _validated(AgentSync, body, "invalid_sync")
            if not grant.may_write(asked.hostname):
                raise Rejected(
                    403, "host_not_allowed", f"agent {grant.name!r} may not sync {asked.hostname!r}"
                )
            # A budget of its own per agent and host, at the batches' rate: syncing cannot
            # take a batch's turn, nor run unbounded.
            refusal = self.admit(f"sync:{grant.name}:{asked.hostname}")
            if refusal is not None:
                return refusal
        except Rejected as rejection:
            return rejection.response
        acks = [(ack.id, ack.result) for ack in asked.acks]
        try:
            answer = self.control.sync(asked.hostname, asked.labels, acks) if self.control else None
        except Exception:
            log.exception("agent commands unavailable for a sync")
            answer = None
        if answer is None:
            return self._unavailable("the agent configuration is unavailable; retry later")
        return IngestResponse(200, answer)

    def handle(
        self, request: IngestRequest, answer: Callable[[IngestRequest], IngestResponse]
    ) -> IngestResponse:
        """An answer, measured for the pipeline's history."""
        started = time.perf_counter()
        response = answer(request)
        meter = self.meter
        if meter is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            samples = response.samples
            self.redis.call(
                lambda: meter.answered(response.status, samples, elapsed_ms, request.received_ms),
                None,
                "pipeline_meter_failures",
            )
        return response

    def _answer(
        self, request: IngestRequest, parse: Callable[[bytes, AgentGrant], Batch]
    ) -> IngestResponse:
        try:
            grant, body = self.authenticated_body(request)
            batch = parse(body, grant)
            if not grant.may_write(batch.host.hostname):
                raise Rejected(
                    403,
                    "host_not_allowed",
                    f"agent {grant.name!r} may not write host {batch.host.hostname!r}; bind it"
                    " with `hostpulse agents bind`",
                )
            self.check_times(batch, request.received_ms)
            return self._accept(batch, request, grant.name)
        except Rejected as rejection:
            self.counters.count(f"rejected_{rejection.response.status}")
            return rejection.response

    @staticmethod
    def _batch(body: bytes, grant: AgentGrant) -> Batch:
        batch = _validated(Batch, body, "invalid_batch")
        if batch.agent_id in grant.taken:
            raise Rejected(
                403,
                "agent_name_taken",
                f"{batch.agent_id!r} is an agent of its own: a member of the fleet"
                f" {grant.name!r} may not write as it",
            )
        if not grant.may_act_as(batch.agent_id):
            allowed = (
                f"{grant.name!r} or {grant.name}.<member>" if grant.fleet else repr(grant.name)
            )
            raise Rejected(
                403,
                "agent_mismatch",
                f"the token writes as agent {allowed}, the batch says {batch.agent_id!r}",
            )
        return batch

    @staticmethod
    def _seed_batch(body: bytes, grant: AgentGrant) -> Batch:
        snapshot = _validated(SeedSnapshot, body, "invalid_snapshot")
        try:
            return seed_batch(snapshot, grant.name)
        except ValidationError as error:
            raise Rejected(422, "invalid_snapshot", validation_message(error)) from None

    def authenticated_body(self, request: IngestRequest) -> tuple[AgentGrant, bytes]:
        grant = self.authenticate(request)
        body = decompress(
            request.body,
            request.headers.get("content-encoding", ""),
            self.limits.max_decompressed_bytes,
        )
        return grant, body

    def authenticate(self, request: IngestRequest) -> AgentGrant:
        if len(request.body) > self.limits.max_body_bytes:
            raise Rejected(413, "too_large", f"body exceeds {self.limits.max_body_bytes} bytes")
        token = bearer_token(request.headers)
        if token is None:
            raise Rejected(401, "unauthorized", "missing agent token (Authorization: Bearer …)")
        # A token known to be active costs nothing more; only a look-up is throttled, so
        # guessing from an address does not lock out the agents that share it.
        grant = self.agents.cached_grant(token)
        if grant is not None:
            return grant
        throttle = self.auth_throttle
        if throttle is not None:
            blocked = self.redis.call(
                lambda: throttle.blocked_for(request.source), 0.0, "auth_throttle_failures"
            )
            wait_s = blocked
            if wait_s > 0:
                raise Rejected.too_soon(
                    "too_many_failed_tokens", wait_s, "too many unknown tokens from this address; "
                )
        grant = self.agents.grant_for_token(token)
        if grant is None or not AGENT_NAME.match(grant.name):
            if throttle is not None:
                self.redis.call(
                    lambda: throttle.failed(request.source), None, "auth_throttle_failures"
                )
            raise Rejected(401, "unauthorized", "unknown or revoked agent token")
        return grant

    def check_times(self, batch: Batch, now_ms: int) -> None:
        newest = max(s.ts_ms for s in batch.samples)
        oldest = min(s.ts_ms for s in batch.samples)
        if newest > now_ms + self.limits.max_future_ms:
            raise Rejected(
                422,
                "timestamp_in_future",
                f"a sample is {(newest - now_ms) / 1000:.0f} s ahead of the server's clock",
            )
        if oldest < now_ms - self.limits.max_age_ms:
            raise Rejected(
                422,
                "timestamp_too_old",
                f"a sample is older than the raw tier keeps ({self.limits.max_age_ms // 1000} s)",
            )

    def _accept(self, batch: Batch, request: IngestRequest, agent_id: str) -> IngestResponse:
        refusal = self.admit(agent_id)
        if refusal is not None:
            return refusal
        kept, over_budget = self.within_budget(batch)
        refusal = self.enqueue(kept, request) if kept is not None else None
        if refusal is not None:
            return refusal
        answer: dict[str, Any] = {"accepted_seq": batch.seq, "samples": len(batch.samples)}
        if over_budget:
            answer["series_over_budget"] = over_budget
        if self.control is not None:  # what the agent should run; it syncs when behind
            answer.update(self.control.announce(batch.host.hostname, batch.host.labels))
        return IngestResponse(202, answer, samples=len(batch.samples))

    def admit(self, agent_id: str, batches: int = 1) -> IngestResponse | None:
        """None when the agent may send ``batches`` now; a 503 while the backend drains;
        raises a 429."""
        # Without Redis there is no rate to keep: the batch is accepted, and counted.
        retry_after = self.redis.call(
            lambda: self.limiter.acquire(agent_id, batches), 0.0, "rate_limiter_failures"
        )
        if retry_after < 0:
            return self._unavailable("the backend is shutting down; retry later")
        if retry_after > 0:
            raise Rejected.too_soon("rate_limited", retry_after)  # counted by _answer
        return None

    def enqueue(
        self, batch: Batch, request: IngestRequest, hot_batch: Batch | None = None
    ) -> IngestResponse | None:
        """Both queues, then the hot tier (``hot_batch``: what it keeps of the batch, when
        not all of it); None once the queues hold it, else the 503."""
        payload = batch.model_dump_json().encode()
        first_ts_ms = min(s.ts_ms for s in batch.samples)
        try:
            # Too big for SQS: the archive must hold it before the queue holds its claim check.
            envelope = envelope_for(
                payload, batch.agent_id, batch.seq, first_ts_ms, self.archive.put
            )
        except Exception:
            log.exception("archive unavailable for a batch too large to queue inline")
            return self._unavailable("archive unavailable; retry later")
        try:
            self.queue.send(envelope.encode(), f"{batch.agent_id}:{batch.seq}")
        except Exception:
            log.exception("queue unavailable; the agent will retry")
            return self._unavailable("queue unavailable; retry later")
        self.redis.call(
            lambda: self.hot.write(hot_batch or batch, request.received_ms),
            None,
            "hot_tier_failures",
        )
        self.counters.count("batches_accepted")
        self.counters.count("samples_accepted", len(batch.samples))
        return None

    def within_budget(self, batch: Batch) -> tuple[Batch | None, int]:
        """The batch without the host's series past its budget (None when nothing is left),
        and how many values were left out. Without Redis the budget is not checked: counted."""
        names = list(dict.fromkeys(name for s in batch.samples for name in s.custom))
        if not names:
            return batch, 0
        host, budget = batch.host.hostname, self.series_budget
        limit = self.limits.series_per_host
        admitted = self.redis.call(
            lambda: budget.admit(host, names, limit), None, "series_budget_failures"
        )
        refused = {n for n, ok in zip(names, admitted or (), strict=False) if not ok}
        if not refused:
            return batch, 0
        kept, dropped = without(batch, refused)
        self.counters.count("series_over_budget", dropped)
        meter = self.meter
        if meter is not None:
            now_ms = int(time.time() * 1000)
            self.redis.call(
                lambda: meter.over_budget(dropped, now_ms), None, "pipeline_meter_failures"
            )
        return kept, dropped

    def _unavailable(self, message: str) -> IngestResponse:
        self.counters.count("rejected_503")
        return IngestResponse(
            503,
            {"error": "unavailable", "message": message},
            {"Retry-After": "5"},
        )
