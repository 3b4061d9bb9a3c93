"""POST /api/v1/write: Prometheus remote-write 1.0, through the same door as an agent's batch
(token, host binding, rate, both queues), a batch per host the request writes.

Answers as the specification asks: 204 once every host's batch is queued; 400 for what can
never be stored, saying why (the sender drops it and logs the answer); 401/403 for the token;
413 for a body past the bound; 415 for another encoding; 429 and 503 with Retry-After, which a
sender retries (Prometheus retries a 429 with ``retry_on_http_429``). A request holding a
sample outside the raw tier's window is refused whole, so that nothing is half stored.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from hostpulse.core.contract import Batch
from hostpulse.services.agents.tokens import AgentGrant
from hostpulse.services.ingest.remote_write.series import Converted, HostRule, convert
from hostpulse.services.ingest.remote_write.wire import (
    PROTOBUF,
    TooLarge,
    Undecodable,
    decode,
)
from hostpulse.services.ingest.service import IngestRequest, IngestResponse, IngestService, Rejected

WRITE_PATH = "/api/v1/write"
# Left out by design, not refused: the sender is told nothing about them.
DROPPED = ("exemplars", "native_histograms")
REASONS = {
    "invalid_labels": "a metric or label name Prometheus does not allow, a label twice, or a"
    " value with a control character",
    "no_host": "no host: neither a host label nor an instance label that is a host name",
    "series_too_long": "a series whose name and labels exceed 1024 bytes",
    "not_storable": "a value that is not a finite number up to 1e100 in size",
    "over_sample_bound": "more series of one host at one time than a sample holds",
    "over_budget": "a new series past its host's budget of distinct series",
}


def ingest_remote_write(service: IngestService, request: IngestRequest) -> IngestResponse:
    return service.handle(request, lambda r: answer(service, r))


def answer(service: IngestService, request: IngestRequest) -> IngestResponse:
    try:
        media = request.headers.get("content-type", PROTOBUF).split(";", 1)[0].strip().lower()
        if media != PROTOBUF:
            raise Rejected(415, "unsupported_media_type", f"Content-Type must be {PROTOBUF}")
        if request.headers.get("content-encoding", "snappy").lower() != "snappy":
            raise Rejected(415, "unsupported_encoding", "Content-Encoding must be snappy")
        grant = service.authenticate(request)
        try:
            written = decode(request.body, service.limits.max_decompressed_bytes)
        except TooLarge as error:
            raise Rejected(413, "too_large", str(error)) from None
        except Undecodable as error:
            raise Rejected(400, "bad_remote_write", str(error)) from None
        limits = service.limits
        now = request.received_ms
        window = (now - limits.max_age_ms, now + limits.max_future_ms)
        digest = hashlib.blake2b(request.body, digest_size=16).digest()
        try:
            converted = convert(written, grant.name, rule_of(grant), window, digest)
        except Undecodable as error:
            raise Rejected(400, "bad_remote_write", str(error)) from None
        return accept(service, request, grant, converted)
    except Rejected as rejection:
        service.counters.count(f"rejected_{rejection.response.status}")
        return as_text(rejection.response)


def rule_of(grant: AgentGrant) -> HostRule:
    if grant.host_label:
        return HostRule(label=grant.host_label, fallback="")
    return HostRule()


def accept(
    service: IngestService, request: IngestRequest, grant: AgentGrant, converted: Converted
) -> IngestResponse:
    check_whole(service, grant, converted)
    refusal, queued = queue_all(service, request, converted)
    if refusal is not None:
        return as_text(refusal)
    store = service.metadata
    if store is not None and converted.metadata:
        entries = converted.metadata
        service.redis.call(lambda: store.save(entries), None, "metadata_failures")
    for reason, count in converted.refused.items():
        if count:
            service.counters.count(f"remote_write_{reason}", count)
    refused = Counter({k: v for k, v in converted.refused.items() if k not in DROPPED and v})
    if refused:
        raise Rejected(
            400, "not_stored", refusal_message(converted, refused, service.limits.series_per_host)
        )
    return IngestResponse(204, {}, raw=b"", samples=queued)


def check_whole(service: IngestService, grant: AgentGrant, converted: Converted) -> None:
    """What refuses the whole request: a sample outside the window, a host not the token's."""
    if converted.outside:
        service.counters.count("remote_write_out_of_bounds", converted.outside)
        limits = service.limits
        raise Rejected(
            400,
            "out_of_bounds",
            f"{converted.outside} samples are older than the raw tier keeps"
            f" ({limits.max_age_ms // 1000} s) or more than {limits.max_future_ms // 1000} s"
            " ahead of the server's clock: nothing of this request was stored",
        )
    for host in sorted(converted.hosts):
        if not grant.may_write(host):
            raise Rejected(
                403,
                "host_not_allowed",
                f"agent {grant.name!r} may not write host {host!r}; bind it with"
                " `hostpulse agents bind`: nothing of this request was stored",
            )


def queue_all(
    service: IngestService, request: IngestRequest, converted: Converted
) -> tuple[IngestResponse | None, int]:
    """Every host's batch within its rate and series budget, queued: the refusal if not, and
    how many of hostpulse's samples (a host at a time) were queued."""
    for batch in converted.batches:
        refusal = service.admit(batch.agent_id)
        if refusal is not None:
            return refusal, 0
    kept = []
    for batch in converted.batches:
        within, over_budget = service.within_budget(batch)
        converted.refused["over_budget"] += over_budget
        converted.accepted -= over_budget
        if within is not None:
            kept.append(within)
    for batch in kept:
        refusal = service.enqueue(batch, request, hot_batch=seen_only(batch))
        if refusal is not None:
            return refusal, 0
    return None, sum(len(batch.samples) for batch in kept)


def seen_only(batch: Batch) -> Batch:
    """What the hot tier keeps of a remote-written batch: that its host was seen, and when.
    Its series are read through PromQL, from the tiers; the live window is the agent's."""
    newest = max(batch.samples, key=lambda s: s.ts_ms)
    return batch.model_copy(update={"samples": [newest.model_copy(update={"custom": {}})]})


def refusal_message(converted: Converted, refused: Counter[str], budget: int) -> str:
    why = "; ".join(
        f"{count} with {REASONS[reason]}" + (f" ({budget})" if reason == "over_budget" else "")
        for reason, count in refused.items()
        if count
    )
    return f"{converted.accepted} samples stored, {sum(refused.values())} not: {why}"


def as_text(response: IngestResponse) -> IngestResponse:
    """Refusals as plain text, as Prometheus' own receiver answers: the sender logs it."""
    if response.raw is not None:
        return response
    message = str(response.body.get("message", ""))
    return IngestResponse(
        response.status,
        response.body,
        {**response.headers, "Content-Type": "text/plain; charset=utf-8"},
        raw=(message + "\n").encode(),
    )
