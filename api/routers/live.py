"""The live feed: every new sample of the chosen hosts, pushed over a WebSocket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, WebSocket

from api.dependencies import Hub, Reader
from api.live_socket import serve

router = APIRouter(tags=["live"], dependencies=[Reader])


@router.websocket("/api/v1/live")
async def live(
    websocket: WebSocket,
    hub: Hub,
    host: Annotated[list[str] | None, Query(description="repeat; none means every host")] = None,
) -> None:
    """Frames are ``{"host", "samples": [{"ts", "m"}]}`` (the hot tier's compact samples) and
    ``{"type": "status", "source": "down" | "up"}`` when the live source is lost or back. A
    slow client gets the newest samples of each host, never a growing backlog."""
    with hub.subscribe(frozenset(host) if host else None) as mailbox:
        await serve(websocket, mailbox)
