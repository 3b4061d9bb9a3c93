"""Serving a live mailbox over one WebSocket: send what is pending, notice when the client goes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi import WebSocket, WebSocketDisconnect

from hostpulse.live import Mailbox, Message

Render = Callable[[Message], Awaitable[list[Any]]]


async def as_is(message: Message) -> list[Any]:
    return [message]


async def serve(websocket: WebSocket, mailbox: Mailbox, render: Render = as_is) -> None:
    await websocket.accept()

    async def send() -> None:
        while True:
            for message in await mailbox.take():
                for frame in await render(message):
                    # Waits while the client is slow; meanwhile the mailbox keeps only the newest.
                    await websocket.send_json(frame)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(send)
        try:
            while True:
                await websocket.receive_text()  # pings from the client; nothing else expected
        except WebSocketDisconnect:
            pass
        finally:
            tasks.cancel_scope.cancel()
