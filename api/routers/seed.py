"""The seed platform's read side, in its shapes, so its dashboard works unchanged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket
from starlette.concurrency import run_in_threadpool

from api.dependencies import Hub, LiveWatch, Now, Queries, Reader
from api.live_socket import serve
from api.params import HostRef
from api.problems import refusals
from hostpulse.core.seed_compat import SeedSnapshotAnswer, seed_snapshot
from hostpulse.services.query.live import Message

router = APIRouter(tags=["seed compatibility"], dependencies=[Reader], responses=refusals(401))


@router.get(
    "/api/metrics/recent",
    summary="The last 5 minutes of one host as seed snapshots (the newest with top processes)",
)
def recent(
    queries: Queries,
    now: Now,
    host: Annotated[HostRef | None, Query(description="default: the host seen last")] = None,
) -> list[SeedSnapshotAnswer]:
    return queries.seed_recent(host, now, 300)


@router.websocket("/ws/metrics")
async def metrics_feed(
    websocket: WebSocket,
    hub: Hub,
    queries: Queries,
    watch: LiveWatch,
    host: Annotated[list[HostRef] | None, Query()] = None,
) -> None:
    """Each new sample as one seed snapshot, with the host's top processes when known."""

    async def render(message: Message) -> list[Any]:
        if "samples" not in message:
            return [message]
        name = message["host"]
        latest = await run_in_threadpool(queries.hot_latest, name)
        frames = []
        for sample in message["samples"]:
            fresh = latest is not None and latest.get("ts_ms") == sample["ts"]
            processes = latest.get("processes", []) if latest is not None and fresh else None
            frames.append(seed_snapshot(name, sample, processes))
        return frames

    with hub.subscribe(frozenset(host) if host else None) as mailbox:
        await serve(websocket, mailbox, watch, render)
