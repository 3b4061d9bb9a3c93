"""The live feed: every new sample of the chosen hosts, pushed over a WebSocket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, WebSocket

from api.dependencies import Hub, LiveWatch, Reader, Settings
from api.live_socket import serve
from api.params import HostRef
from api.problems import refusals

router = APIRouter(tags=["live"], dependencies=[Reader], responses=refusals(401))


@router.get("/api/v1/live", summary="Whether live samples are pushed over a WebSocket here")
def live_info(settings: Settings) -> dict[str, bool]:
    """Behind a REST API Gateway there is no WebSocket: the dashboard then polls at once
    instead of trying (a refused upgrade is not free for every gateway)."""
    return {"websocket": settings.live_websocket}


@router.websocket("/api/v1/live")
async def live(
    websocket: WebSocket,
    hub: Hub,
    watch: LiveWatch,
    host: Annotated[
        list[HostRef] | None, Query(description="repeat; none means every host")
    ] = None,
) -> None:
    """Frames are ``{"host", "samples": [{"ts", "m"}]}`` (the hot tier's compact samples) and
    ``{"type": "status", "source": "down" | "up"}`` when the live source is lost or back. A
    slow client gets the newest samples of each host, never a growing backlog."""
    with hub.subscribe(frozenset(host) if host else None) as mailbox:
        await serve(websocket, mailbox, watch)
