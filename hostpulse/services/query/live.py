"""The live feed: one subscription to every host's channel, fanned out to many browsers.

Each client has a mailbox that keeps at most the newest ``max_samples`` per host: a slow
client gets the latest state, never an unbounded queue, and the pump never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from hostpulse.services.query.ports import LiveSource

log = logging.getLogger(__name__)

Message = dict[str, Any]  # {"host": str, "samples": [{"ts": ms, "m": {metric: value}}]}


SUBSCRIBED: Message = {"type": "subscribed"}


class Mailbox:
    def __init__(self, hosts: frozenset[str] | None, max_samples: int) -> None:
        self.hosts = hosts
        self.max_samples = max_samples
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.status: str | None = None
        self.dropped = 0
        self._ready = asyncio.Event()

    def put(self, message: Message) -> None:
        host = message["host"]
        if self.hosts is not None and host not in self.hosts:
            return
        samples = self.pending.setdefault(host, [])
        samples.extend(message["samples"])
        if len(samples) > self.max_samples:
            self.dropped += len(samples) - self.max_samples
            del samples[: len(samples) - self.max_samples]
        self._ready.set()

    def set_status(self, status: str) -> None:
        self.status = status
        self._ready.set()

    async def take(self) -> list[Message]:
        """Wait for news, then everything pending: status first, then one message per host."""
        await self._ready.wait()
        self._ready.clear()
        taken: list[Message] = []
        if self.status is not None:
            taken.append({"type": "status", "source": self.status})
            self.status = None
        taken += [{"host": host, "samples": samples} for host, samples in self.pending.items()]
        self.pending = {}
        return taken


class LiveHub:
    def __init__(self, source: LiveSource, max_samples: int = 120, retry_s: float = 1.0) -> None:
        self.source = source
        self.max_samples = max_samples
        self.retry_s = retry_s
        self.mailboxes: set[Mailbox] = set()
        self._pump: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def subscribe(self, hosts: frozenset[str] | None = None) -> Iterator[Mailbox]:
        mailbox = Mailbox(hosts, self.max_samples)
        self.mailboxes.add(mailbox)
        self._ensure_pump()
        try:
            yield mailbox
        finally:
            self.mailboxes.discard(mailbox)
            if not self.mailboxes and self._pump is not None:
                self._pump.cancel()  # nobody listens: let go of the subscription
                self._pump = None

    def _ensure_pump(self) -> None:
        loop = asyncio.get_running_loop()
        if self._pump is None or self._pump.done() or self._pump.get_loop() is not loop:
            self._pump = loop.create_task(self._run())

    async def _run(self) -> None:
        delay = self.retry_s
        lost = False
        while self.mailboxes:
            try:
                async for message in self.source.messages():
                    if message == SUBSCRIBED:
                        if lost:
                            self._broadcast_status("up")
                        lost, delay = False, self.retry_s
                        continue
                    for mailbox in list(self.mailboxes):
                        mailbox.put(message)
                    if not self.mailboxes:
                        return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live source lost; retrying in %.0f s", delay, exc_info=True)
            lost = True
            self._broadcast_status("down")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _broadcast_status(self, status: str) -> None:
        for mailbox in list(self.mailboxes):
            mailbox.set_status(status)
