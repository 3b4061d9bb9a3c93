"""POST /v1/metrics: OpenTelemetry metrics over OTLP/HTTP, through the same door as an agent's
batch (token, rate limit, both queues, hot tier), one batch per host the request names.

Answers follow OTLP/HTTP: 200 with an ``ExportMetricsServiceResponse`` whose partial success
counts the points that were not kept; a refusal with a ``google.rpc.Status``; both in the
request's encoding. 429 and 503 carry Retry-After, and the exporters retry them; the other
refusals they do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from hostpulse.core.contract import Batch
from hostpulse.services.agents.tokens import AgentGrant
from hostpulse.services.ingest.otlp.batches import Converted, convert
from hostpulse.services.ingest.otlp.counters import CounterState, forgotten
from hostpulse.services.ingest.otlp.points import Flattened, flatten
from hostpulse.services.ingest.otlp.wire import Encoding, Undecodable, encoding_of
from hostpulse.services.ingest.service import IngestRequest, IngestResponse, IngestService, Rejected

OTLP_PATH = "/v1/metrics"
COUNTER_FAILURE = "otlp_counter_failures"
UNSUPPORTED = "Content-Type must be application/x-protobuf or application/json"
NO_HOST = (
    "no resource names its host: set the resource attribute host.name (the Collector's "
    "resourcedetection processor with the system detector does, and so does "
    "OTEL_RESOURCE_ATTRIBUTES=host.name=NAME for an SDK)"
)


def ingest_otlp(service: IngestService, request: IngestRequest) -> IngestResponse:
    return service.handle(request, lambda r: answer(service, r))


def answer(service: IngestService, request: IngestRequest) -> IngestResponse:
    asked = encoding_of(request.headers.get("content-type", ""))
    encoding = asked or Encoding(json=True)
    try:
        if asked is None:
            raise Rejected(415, "unsupported_media_type", UNSUPPORTED)
        grant, body = service.authenticated_body(request)
        try:
            flat = flatten(encoding.decode(body))
        except Undecodable as error:
            raise Rejected(400, "bad_otlp", str(error)) from None
        return accept(service, request, grant, flat, encoding)
    except Rejected as rejection:
        service.counters.count(f"rejected_{rejection.response.status}")
        return refusal(encoding, rejection.response)


def refusal(encoding: Encoding, response: IngestResponse) -> IngestResponse:
    message = str(response.body.get("message", ""))
    return IngestResponse(
        response.status,
        response.body,
        {**response.headers, "Content-Type": encoding.content_type},
        raw=encoding.failure(response.status, message),
    )


def accept(
    service: IngestService,
    request: IngestRequest,
    grant: AgentGrant,
    flat: Flattened,
    encoding: Encoding,
) -> IngestResponse:
    if not flat.hosts and flat.without_host:
        raise Rejected(400, "no_host", NO_HOST)
    bound = service.limits.max_hosts_per_request
    if len(flat.hosts) > bound:
        raise Rejected(
            413,
            "too_many_hosts",
            f"{len(flat.hosts)} hosts in one request; at most {bound} (what the sender's rate"
            " lets through at once): send smaller requests, for example with the Collector's"
            " batch processor's send_batch_max_size",
        )
    for hostname in flat.hosts:
        if not grant.may_write(hostname):
            message = f"agent {grant.name!r} may not write host {hostname!r}"
            raise Rejected(
                403, "host_not_allowed", f"{message}; bind it with `hostpulse agents bind`"
            )
    store = service.counter_store
    empty: dict[str, CounterState] = {}
    states = {
        host: service.redis.call(partial(store.load, host), empty, COUNTER_FAILURE)
        for host in flat.hosts
    }
    now_ns = request.received_ms * 10**6
    limits = service.limits
    window_ns = (now_ns - limits.max_age_ms * 10**6, now_ns + limits.max_future_ms * 10**6)
    converted = {
        host: convert(points, grant.name, states[host], window_ns)
        for host, points in flat.hosts.items()
    }
    refused = flat.without_host + sum(c.refused for c in converted.values())
    batches = []
    for result in converted.values():
        kept, over_budget = (
            service.within_budget(result.batch) if result.batch is not None else (None, 0)
        )
        refused += over_budget
        if kept is not None:
            batches.append(kept)
    if batches:
        unavailable = service.admit(grant.name, len(batches))
        if unavailable is None:
            unavailable = enqueue_all(service, batches, request)
        if unavailable is not None:
            return refusal(encoding, unavailable)
    remember(service, states, converted, request.received_ms)
    service.counters.count("otlp_points_refused", refused)
    samples = sum(len(b.samples) for b in batches)
    body = {"samples": samples, "rejected_data_points": refused}
    return IngestResponse(
        200,
        body,
        {"Content-Type": encoding.content_type},
        raw=encoding.success(refused, refused_message(flat, refused)),
        samples=samples,
    )


def enqueue_all(
    service: IngestService, batches: Sequence[Batch], request: IngestRequest
) -> IngestResponse | None:
    # A batch queued before a failure is queued again by the retry: the same batch, stored once.
    for batch in batches:
        unavailable = service.enqueue(batch, request)
        if unavailable is not None:
            return unavailable
    return None


def remember(
    service: IngestService,
    before: dict[str, dict[str, CounterState]],
    converted: dict[str, Converted],
    now_ms: int,
) -> None:
    """Counter states are kept only once the batches holding their rates are queued."""
    store = service.counter_store
    for host, result in converted.items():
        old = before[host]
        changed = {k: s for k, s in result.counters.items() if old.get(k) is not s}
        removed = forgotten(result.counters, now_ms * 10**6)
        if changed or removed:
            service.redis.call(partial(store.save, host, changed, removed), None, COUNTER_FAILURE)


def refused_message(flat: Flattened, refused: int) -> str:
    if not refused:
        return ""
    parts = [f"{refused} data points were not kept"]
    if flat.without_host:
        parts.append(f"{flat.without_host} of resources without host.name")
    return (
        "; ".join(parts) + " (values that are not finite numbers, names no series can have, "
        "times outside what the raw tier keeps, or series past their host's budget)"
    )
