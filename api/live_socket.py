"""Serving a live mailbox over one WebSocket: send what is pending, notice when the client goes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

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

    async def receive() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()  # pings from the client; nothing else expected

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and isinstance(task.exception(), Exception):
                error = task.exception()
                if not isinstance(error, WebSocketDisconnect | RuntimeError | OSError):
                    raise error  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
