"""The live feed: fan-out, backpressure, source loss, and the WebSocket endpoints."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.dependencies import get_live_hub, get_query_service
from hostpulse.core.settings import ApiSettings
from hostpulse.core.tiers import default_tiers
from hostpulse.services.query.live import SUBSCRIBED, LiveHub, Mailbox, Message
from hostpulse.services.query.service import QueryService

LOST: Message = {"type": "lost"}  # tells the memory source to fail like a dropped connection


class MemorySource:
    """Messages pushed from any thread; ``LOST`` breaks the subscription once."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue[Message] | None = None
        self.subscribed = threading.Event()
        self.subscriptions = 0

    async def messages(self) -> AsyncIterator[Message]:
        self.loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()
        self.subscriptions += 1
        self.subscribed.set()
        yield SUBSCRIBED
        while True:
            message = await self.queue.get()
            if message is LOST:
                self.subscribed.clear()
                raise ConnectionError("connection lost")
            yield message

    def push(self, message: Message) -> None:
        assert self.subscribed.wait(5), "nobody subscribed"
        assert self.loop is not None and self.queue is not None
        self.loop.call_soon_threadsafe(self.queue.put_nowait, message)


def sample(ts: int, cpu: float = 1.0) -> dict[str, Any]:
    return {"ts": ts, "m": {"cpu.percent": cpu, "cpu.core:1": cpu, "cpu.core:0": cpu / 2}}


def test_a_slow_client_keeps_only_the_newest_samples_of_each_host() -> None:
    async def scenario() -> list[Message]:
        mailbox = Mailbox(hosts=None, max_samples=3)
        for ts in range(10):
            mailbox.put({"host": "web-1", "samples": [sample(ts)]})
        mailbox.put({"host": "db-1", "samples": [sample(99)]})
        taken = await mailbox.take()
        assert mailbox.dropped == 7
        return taken

    taken = asyncio.run(scenario())

    assert taken == [
        {"host": "web-1", "samples": [sample(7), sample(8), sample(9)]},
        {"host": "db-1", "samples": [sample(99)]},
    ]


def test_a_mailbox_takes_only_its_hosts() -> None:
    async def scenario() -> list[Message]:
        mailbox = Mailbox(hosts=frozenset({"db-1"}), max_samples=10)
        mailbox.put({"host": "web-1", "samples": [sample(1)]})
        mailbox.put({"host": "db-1", "samples": [sample(2)]})
        return await mailbox.take()

    assert asyncio.run(scenario()) == [{"host": "db-1", "samples": [sample(2)]}]


def test_the_hub_reports_a_lost_source_and_resubscribes() -> None:
    source = MemorySource()

    async def scenario() -> list[list[Message]]:
        hub = LiveHub(source, retry_s=0.01)
        seen = []
        with hub.subscribe() as mailbox:
            await asyncio.sleep(0.01)
            assert source.queue is not None
            source.queue.put_nowait({"host": "a", "samples": [sample(1)]})
            seen.append(await mailbox.take())
            source.queue.put_nowait(LOST)
            seen.append(await mailbox.take())
            seen.append(await asyncio.wait_for(mailbox.take(), 2))
            source.queue.put_nowait({"host": "a", "samples": [sample(2)]})
            seen.append(await asyncio.wait_for(mailbox.take(), 2))
        return seen

    seen = asyncio.run(scenario())

    assert seen == [
        [{"host": "a", "samples": [sample(1)]}],
        [{"type": "status", "source": "down"}],
        [{"type": "status", "source": "up"}],
        [{"host": "a", "samples": [sample(2)]}],
    ]
    assert source.subscriptions == 2


class LatestOnly:
    def latest(self, host: str) -> dict[str, Any] | None:
        return {
            "ts_ms": 2000,
            "processes": [{"pid": 1, "name": "init", "cpu_percent": 0.5, "rss_bytes": 1048576}],
        }


@pytest.fixture
def live_app() -> tuple[TestClient, MemorySource]:
    source = MemorySource()
    hub = LiveHub(source, retry_s=0.01)
    app = create_app(
        ApiSettings(
            database_url="postgresql://unused", redis_url="redis://unused", public_read=True
        )
    )
    service = QueryService(None, LatestOnly(), default_tiers(), 1000)  # type: ignore[arg-type]
    app.dependency_overrides[get_live_hub] = lambda: hub
    app.dependency_overrides[get_query_service] = lambda: service
    return TestClient(app), source


def test_the_live_socket_pushes_the_chosen_hosts(live_app: tuple[TestClient, MemorySource]) -> None:
    client, source = live_app
    with client.websocket_connect("/api/v1/live?host=web-1") as socket:
        source.push({"host": "db-1", "samples": [sample(1)]})
        source.push({"host": "web-1", "samples": [sample(2)]})
        assert socket.receive_json() == {"host": "web-1", "samples": [sample(2)]}

        source.push(LOST)
        statuses = [socket.receive_json()]
        while statuses[-1] != {"type": "status", "source": "up"}:
            statuses.append(socket.receive_json())
        source.push({"host": "web-1", "samples": [sample(3)]})

        # A status is a state, not a queue: "down" may be overtaken by "up" before it is sent.
        assert statuses in (
            [{"type": "status", "source": "down"}, {"type": "status", "source": "up"}],
            [{"type": "status", "source": "up"}],
        )
        assert socket.receive_json() == {"host": "web-1", "samples": [sample(3)]}


def test_the_seed_socket_sends_seed_snapshots(live_app: tuple[TestClient, MemorySource]) -> None:
    client, source = live_app
    with client.websocket_connect("/ws/metrics") as socket:
        source.push({"host": "web-1", "samples": [sample(1000, 40.0), sample(2000, 50.0)]})
        first, second = socket.receive_json(), socket.receive_json()

    assert (first["host"], first["timestamp"], first["total_cpu_percent"]) == ("web-1", 1.0, 40.0)
    assert first["per_core_cpu_percent"] == [20.0, 40.0]
    assert first["top_processes"] == []
    assert second["top_processes"][0]["name"] == "init", "the newest carries the processes"
    assert second["top_processes"][0]["memory_mb"] == 1.0
