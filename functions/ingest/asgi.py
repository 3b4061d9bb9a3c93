"""Ingest as an ordinary ASGI service (uvicorn), where there is no Lambda (Kubernetes): the same
service and routes as the function behind API Gateway, its counts at /metrics, probes at
/healthz and /readyz."""

from __future__ import annotations

import json
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hostpulse.services.ingest.http import SEED_PATH_PARAMETER, SYNC_PATH, route, with_path_token
from hostpulse.services.ingest.otlp.route import OTLP_PATH
from hostpulse.services.ingest.remote_write.route import WRITE_PATH
from hostpulse.services.ingest.service import IngestRequest, IngestResponse
from hostpulse.wiring.components import ingest_service
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import PrometheusCounters

counters = PrometheusCounters("ingest")
service = Lazy(lambda: ingest_service(counters))


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, or None past ``limit`` bytes: read no further than a gateway would let in."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def answer(response: IngestResponse) -> Response:
    if response.raw is not None:
        return Response(response.raw, response.status, headers=response.headers)
    return JSONResponse(response.body, response.status, headers=response.headers)


async def ingest(request: Request) -> Response:
    ingestion = service()
    limit = ingestion.limits.max_body_bytes
    body = await bounded_body(request, limit)
    if body is None:
        message = f"body exceeds {limit} bytes"
        return JSONResponse({"error": "too_large", "message": message}, 413)
    headers = with_path_token(
        {name.lower(): value for name, value in request.headers.items()},
        request.path_params.get(SEED_PATH_PARAMETER),
    )
    received = IngestRequest(
        body=body,
        headers=headers,
        received_ms=int(time.time() * 1000),
        source=request.client.host if request.client else "",
    )
    return answer(await run_in_threadpool(route(request.url.path, ingestion), received))


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    """Ready once the service is built: its settings were valid and its clients exist."""
    try:
        await run_in_threadpool(service)
    except Exception as error:  # settings missing or invalid: say which, do not take traffic
        return Response(json.dumps({"ok": False, "error": str(error)}), 503)
    return JSONResponse({"ok": True})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(counters.registry), media_type=CONTENT_TYPE_LATEST)


app = Starlette(
    routes=[
        Route("/v1/ingest", ingest, methods=["POST"]),
        Route(SYNC_PATH, ingest, methods=["POST"]),
        Route(OTLP_PATH, ingest, methods=["POST"]),
        Route(WRITE_PATH, ingest, methods=["POST"]),
        Route("/ingest/metrics", ingest, methods=["POST"]),
        Route(f"/seed/{{{SEED_PATH_PARAMETER}}}/ingest/metrics", ingest, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
)
