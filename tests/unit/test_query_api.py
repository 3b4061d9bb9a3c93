from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.dependencies import get_now, get_query_service
from hostpulse.query import HostRow, Point, QueryService, SequenceSpan
from hostpulse.tiers import Tier, default_tiers

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class MemoryReader:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def hosts(self) -> list[HostRow]:
        seen = {
            "web-1": NOW - timedelta(seconds=5),
            "db-1": NOW - timedelta(seconds=60),
            "old-1": NOW - timedelta(hours=3),
        }
        return [
            HostRow(h, h, {"hostname": h}, t - timedelta(days=1), t, t) for h, t in seen.items()
        ]

    def metrics(self, host: str) -> list[str]:
        return ["cpu.percent", "mem.percent"] if host in {"web-1", "db-1", "old-1"} else []

    def series(
        self, host: str, metric: str, tier: Tier, start: datetime, end: datetime, step_s: int
    ) -> list[Point]:
        self.calls.append((tier.name, step_s))
        return [Point(int(start.timestamp() * 1000), 1.0, 3.0, 2.0, 3)]

    def latest_processes(self, host: str) -> tuple[int, list[dict[str, Any]]] | None:
        return None

    def sequence_spans(self, window_s: int) -> list[SequenceSpan]:
        # web-1: seq 0..9 with 8 received (two lost); db-1's agent was reinstalled, seq from 0
        return [
            SequenceSpan("web-1", "web-1", 8, 0, 9),
            SequenceSpan("db-1", "db-1", 5, 100, 104),
            SequenceSpan("db-1", "db-1b", 3, 0, 2),
        ]


class MemoryHot:
    def last_seen(self) -> dict[str, int]:
        return {"new-1": int(NOW.timestamp() * 1000) - 1000}

    def latest(self, host: str) -> dict[str, Any] | None:
        return {"ts_ms": 1, "processes": [{"name": "<img src=x>"}]} if host == "web-1" else None

    def facts(self) -> dict[str, dict[str, Any]]:
        return {"new-1": {"hostname": "new-1", "os": "Linux"}}


@pytest.fixture
def reader() -> MemoryReader:
    return MemoryReader()


@pytest.fixture
def client(reader: MemoryReader) -> Iterator[TestClient]:
    app = create_app()
    service = QueryService(reader, MemoryHot(), default_tiers(), max_points=1000)
    app.dependency_overrides[get_query_service] = lambda: service
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as test_client:
        yield test_client


def test_hosts_have_a_status_from_last_seen(client: TestClient) -> None:
    hosts = {h["host"]: h["status"] for h in client.get("/api/v1/hosts").json()["hosts"]}

    assert hosts == {"web-1": "live", "db-1": "stale", "old-1": "down", "new-1": "live"}
    new = next(h for h in client.get("/api/v1/hosts").json()["hosts"] if h["host"] == "new-1")
    assert new["facts"]["os"] == "Linux"  # known from ingest before aggregation catches up


def test_hosts_show_completeness_from_sequence_gaps(client: TestClient) -> None:
    hosts = {h["host"]: h["completeness"] for h in client.get("/api/v1/hosts").json()["hosts"]}

    assert hosts["web-1"] == {"batches": 8, "missing_batches": 2, "percent": 80.0}
    assert hosts["db-1"] == {"batches": 8, "missing_batches": 0, "percent": 100.0}
    assert hosts["old-1"] == {"batches": 0, "missing_batches": 0, "percent": None}


def test_a_series_reads_the_tier_chosen_for_its_range(
    client: TestClient, reader: MemoryReader
) -> None:
    day = client.get(
        "/api/v1/series", params={"host": "web-1", "metric": "cpu.percent", "from": "-24h"}
    )
    forced = client.get(
        "/api/v1/series",
        params={"host": "web-1", "metric": "cpu.percent", "from": "-1h", "tier": "1h"},
    )

    assert day.status_code == 200
    assert (day.json()["tier"], day.json()["step_s"]) == ("1m", 87)
    assert day.json()["points"] == [
        [int((NOW - timedelta(hours=24)).timestamp() * 1000), 2.0, 1.0, 3.0, 3]
    ]
    assert forced.json()["tier"] == "1h"
    assert reader.calls == [("1m", 87), ("1h", 3600)]


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"host": "web-1", "metric": "cpu.percent", "from": "yesterday"}, 400, "'from' must be"),
        ({"host": "web-1", "metric": "cpu.percent", "from": "-1h", "to": "-2h"}, 400, "after"),
        ({"host": "web-1", "metric": "cpu.percent", "step": "0"}, 400, "'step' must be"),
        ({"host": "nope", "metric": "cpu.percent"}, 404, "unknown host"),
        ({"host": "web-1", "metric": "gpu.percent"}, 404, "no metric"),
        ({"host": "web-1", "metric": "cpu.percent", "tier": "5m"}, 422, "tier"),
        ({"metric": "cpu.percent"}, 422, "host"),
    ],
)
def test_bad_parameters_get_a_clear_4xx(
    client: TestClient, params: dict[str, str], status: int, fragment: str
) -> None:
    response = client.get("/api/v1/series", params=params)

    assert response.status_code == status
    assert fragment in response.text


def test_latest_snapshot_comes_from_the_hot_tier_or_404(client: TestClient) -> None:
    latest = client.get("/api/v1/hosts/web-1/latest")

    assert latest.json()["source"] == "hot"
    assert latest.json()["sample"]["processes"][0]["name"] == "<img src=x>"
    assert client.get("/api/v1/hosts/nobody/latest").status_code == 404


def test_the_api_is_documented() -> None:
    paths = create_app().openapi()["paths"]

    assert {"/api/v1/hosts", "/api/v1/series", "/api/v1/hosts/{host}/latest"} <= set(paths)
