"""Serving a live mailbox over one WebSocket: send what is pending, notice when the client goes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi import WebSocket, WebSocketDisconnect, status

from api.dependencies import SIGN_IN_ENDED, FeedWatch
from hostpulse.services.query.live import Mailbox, Message

log = logging.getLogger(__name__)
Render = Callable[[Message], Awaitable[list[Any]]]


async def as_is(message: Message) -> list[Any]:
    return [message]


async def serve(
    websocket: WebSocket, mailbox: Mailbox, watch: FeedWatch, render: Render = as_is
) -> None:
    """Once ``watch`` finds the sign-in gone (asked in a thread: it may ask the database), the
    socket closes with 1008: a feed opened with a sign-in ends with the session."""
    await websocket.accept()

    async def send() -> None:
        while True:
            for message in await mailbox.take():
                for frame in await render(message):
                    # Waits while the client is slow; meanwhile the mailbox keeps only the newest.
                    await websocket.send_json(frame)

    async def recheck(allowed: Callable[[], bool]) -> None:
        while True:
            await anyio.sleep(watch.every_s)
            try:
                ended = not await anyio.to_thread.run_sync(allowed)
            except Exception:  # the sessions' store away a moment: asked again next time
                log.warning("could not check a live feed's sign-in", exc_info=True)
                continue
            if ended:
                await websocket.close(status.WS_1008_POLICY_VIOLATION, SIGN_IN_ENDED)
                tasks.cancel_scope.cancel()
                return

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(send)
        if watch.still_allowed is not None:
            tasks.start_soon(recheck, watch.still_allowed)
        try:
            while True:
                await websocket.receive_text()  # pings from the client; nothing else expected
        except WebSocketDisconnect:
            pass
        finally:
            tasks.cancel_scope.cancel()
