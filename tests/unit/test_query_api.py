from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from api.app import create_app
from api.dependencies import get_now, get_query_service
from hostpulse.core.responses import (
    AtAGlance,
    CompactSample,
    HostFactsView,
    LatestSample,
    ProcessPoint,
    ProcessRow,
)
from hostpulse.core.settings import ApiSettings
from hostpulse.core.tiers import TierChoice, default_tiers
from hostpulse.services.query.rows import EncodedJson, EncodedPoints, HostRow, ms_time
from hostpulse.services.query.service import QueryService

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SETTINGS = ApiSettings(
    database_url="postgresql://unused", redis_url="redis://unused", public_read=True
)


class MemoryReader:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.process_spans: list[tuple[str, datetime, datetime]] = []
        self.retired: dict[str, int] = {}  # host -> retired at (ms)

    def hosts(self, completeness_window_s: int, only: str | None = None) -> list[HostRow]:
        return [row for row in self.every_host() if only in (None, row.host)]

    def every_host(self) -> list[HostRow]:
        seen = {"web-1": 5_000, "db-1": 60_000, "old-1": 3 * 3_600_000, "seed-1": 10_000}
        # web-1: seq 0..9 with 8 received (two lost); db-1's agent was reinstalled and
        # numbers from 0 again: 5 of 100..104, then 3 of 0..2.
        batches = {"web-1": (8, 10), "db-1": (5 + 3, 5 + 3)}
        return [
            HostRow(
                h,
                h,
                EncodedJson(f'{{"hostname": "{h}", "cpu_count": 4}}'),
                NOW_MS - ago - 86_400_000,
                NOW_MS - ago,
                NOW_MS - ago,
                unnumbered=h == "seed-1",
                retired_ms=self.retired.get(h),
                batches_received=batches.get(h, (0, 0))[0],
                batches_expected=batches.get(h, (0, 0))[1],
            )
            for h, ago in seen.items()
        ]

    def host_known(self, host: str) -> bool:
        return any(row.host == host for row in self.every_host())

    def metrics(self, host: str) -> list[str]:
        if host not in {"web-1", "db-1", "old-1"}:
            return []
        return [*(f"cpu.core:{n}" for n in (0, 1, 10, 2)), "cpu.percent", "mem.percent"]

    def series(
        self,
        host: str,
        metrics: Sequence[str],
        choice: TierChoice,
        start: datetime,
        end: datetime,
    ) -> dict[str, EncodedPoints]:
        self.calls.append((choice.tier.name, choice.step_s))
        points = EncodedPoints.of([(int(start.timestamp() * 1000), 2.0, 1.0, 3.0, 3)])
        return {metric: points for metric in metrics if metric != "mem.percent"}

    def latest_processes(self, host: str) -> tuple[int, list[ProcessRow]] | None:
        return None

    def processes_between(
        self, host: str, start: datetime, end: datetime
    ) -> dict[int, list[ProcessRow]]:
        """web-1's sample 10 s ago is stored, with 14 processes (the busiest first)."""
        self.process_spans.append((host, start, end))
        stored = {
            NOW_MS - 10_000: [
                {**PROCESS, "pid": 100 + n, "cpu_percent": float(n)} for n in range(13, -1, -1)
            ]
        }
        return {
            ts: cast(list[ProcessRow], processes)
            for ts, processes in stored.items()
            if host == "web-1" and start <= ms_time(ts) < end
        }

    def process_history(
        self, host: str, pid: int, start: datetime, end: datetime
    ) -> list[ProcessPoint]:
        if host != "web-1" or pid != 42:
            return []
        return [
            {
                "ts_ms": int(start.timestamp() * 1000) + 1000,
                "name": "postgres",
                "cpu_percent": 3.5,
                "rss_bytes": 1 << 20,
                "threads": 4,
                "read_bytes_per_s": 0.0,
                "write_bytes_per_s": 0.0,
                "open_files": None,
                "status": "sleeping",
            }
        ]


NOW_MS = int(NOW.timestamp() * 1000)
PROCESS: ProcessRow = {
    "pid": 7,
    "name": "<img src=x>",
    "cmdline": "",
    "user": "",
    "cpu_percent": 12.5,
    "rss_bytes": 3 * 1024 * 1024,
    "threads": 0,
    "read_bytes_per_s": 0.0,
    "write_bytes_per_s": 0.0,
    "read_bytes_total": None,
    "write_bytes_total": None,
    "open_files": None,
    "status": "",
}
WINDOW: list[CompactSample] = [
    {"ts": NOW_MS - 400_000, "m": {"cpu.percent": 1.0}},  # older than 5 minutes
    {"ts": NOW_MS - 10_000, "m": {"cpu.percent": 5.0, "cpu.core:1": 6.0, "cpu.core:0": 4.0}},
    {"ts": NOW_MS - 5_000, "m": {"cpu.percent": 7.0, "mem.total_bytes": 2 * 1024**3}},
]


class MemoryHot:
    def last_seen(self) -> dict[str, int]:
        return {"new-1": NOW_MS - 1000, "web-1": NOW_MS - 500}

    def latest(self, host: str) -> LatestSample | None:
        return {"ts_ms": NOW_MS - 5_000, "processes": [PROCESS]} if host == "web-1" else None

    def window(self, host: str, since_ms: int) -> list[CompactSample]:
        return [s for s in WINDOW if s["ts"] > since_ms] if host == "web-1" else []

    def glances(self, only: str | None = None) -> dict[str, AtAGlance]:
        return {host: g for host, g in self.every_glance().items() if only in (None, host)}

    def every_glance(self) -> dict[str, AtAGlance]:
        return {
            # Seen by ingest after the newest sample aggregation stored.
            "web-1": {"ts_ms": NOW_MS - 500, "cpu_percent": 7.0, "mem_percent": None,
                      "disk_percent": None, "load1": None},
            # Silent for longer than the hot tier keeps a host: not shown as its figures now.
            "old-1": {"ts_ms": NOW_MS - 601_000, "cpu_percent": 3.0, "mem_percent": 40.0,
                      "disk_percent": 70.0, "load1": 0.5},
            # Seen by ingest, not aggregated yet.
            "new-1": {"ts_ms": NOW_MS - 1000, "cpu_percent": 1.0, "mem_percent": 10.0,
                      "disk_percent": 20.0, "load1": 0.1},
            # Web-1 as it was spelled before hosts took one spelling: not a host of its own.
            "WEB-1": {"ts_ms": NOW_MS - 700_000, "cpu_percent": 1.0, "mem_percent": 10.0,
                      "disk_percent": 20.0, "load1": 0.1},
        }  # fmt: skip

    def facts(self, only: str | None = None) -> dict[str, HostFactsView]:
        facts: dict[str, HostFactsView] = {"new-1": {"hostname": "new-1", "os": "Linux"}}
        return {host: f for host, f in facts.items() if only in (None, host)}


@pytest.fixture
def reader() -> MemoryReader:
    return MemoryReader()


@pytest.fixture
def client(reader: MemoryReader) -> Iterator[TestClient]:
    app = create_app(SETTINGS)
    service = QueryService(reader, MemoryHot(), default_tiers(), max_points=1000)
    app.dependency_overrides[get_query_service] = lambda: service
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as test_client:
        yield test_client


def test_hosts_have_a_status_from_last_seen(client: TestClient) -> None:
    hosts = {h["host"]: h["status"] for h in client.get("/api/v1/hosts").json()["hosts"]}

    assert hosts == {
        "web-1": "live", "db-1": "stale", "old-1": "down", "seed-1": "live", "new-1": "live",
    }  # fmt: skip
    listed = {h["host"]: h for h in client.get("/api/v1/hosts").json()["hosts"]}
    assert listed["new-1"]["facts"]["os"] == "Linux"  # from ingest before aggregation catches up
    assert listed["new-1"]["last_seen_ms"] == NOW_MS - 1000
    assert listed["new-1"]["agent_id"] is None
    # The newer of the stored last sample and ingest's: web-1 was seen since it was stored.
    assert listed["web-1"]["last_seen_ms"] == NOW_MS - 500
    assert listed["db-1"]["last_seen_ms"] == NOW_MS - 60_000
    assert listed["db-1"]["facts"] == {"hostname": "db-1", "cpu_count": 4}  # as stored


def test_a_retired_host_leaves_the_fleet_is_counted_and_comes_back_when_it_sends(
    client: TestClient, reader: MemoryReader
) -> None:
    reader.retired = {"old-1": NOW_MS - 600_000, "web-1": NOW_MS - 10_000}

    fleet = client.get("/api/v1/hosts").json()
    retired = client.get("/api/v1/hosts", params={"retired": "true"}).json()

    # web-1 sent after its retirement (ingest saw it): back in the fleet, as live.
    assert {h["host"] for h in fleet["hosts"]} == {"web-1", "db-1", "seed-1", "new-1"}
    assert fleet["retired"] == 1
    [old] = retired["hosts"]
    assert (old["host"], old["status"], old["retired_ms"]) == (
        "old-1", "retired", NOW_MS - 600_000
    )  # fmt: skip
    reader.retired = {}
    assert "retired" not in client.get("/api/v1/hosts").json()


def test_one_host_is_its_entry_of_the_fleet_retired_or_not(
    client: TestClient, reader: MemoryReader
) -> None:
    fleet = {h["host"]: h for h in client.get("/api/v1/hosts").json()["hosts"]}
    for name, entry in fleet.items():  # stored, seen by ingest only, seed: as in the list
        assert client.get(f"/api/v1/hosts/{name}").json() == entry
    assert client.get("/api/v1/hosts/WEB-1").json()["host"] == "web-1"  # one spelling

    reader.retired = {"old-1": NOW_MS - 600_000}
    old = client.get("/api/v1/hosts/old-1").json()
    assert (old["status"], old["retired_ms"]) == ("retired", NOW_MS - 600_000)
    missing = client.get("/api/v1/hosts/nowhere-1")
    assert missing.status_code == 404
    assert "nowhere-1" in missing.json()["detail"]


@settings(max_examples=60, deadline=None)
@given(name=st.text(min_size=1, max_size=80))
def test_any_host_name_is_found_refused_or_unknown_never_an_error(name: str) -> None:
    app = create_app(SETTINGS)
    service = QueryService(MemoryReader(), MemoryHot(), default_tiers(), max_points=1000)
    app.dependency_overrides[get_query_service] = lambda: service
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as client:
        answer = client.get(f"/api/v1/hosts/{quote(name, safe='')}")
    assert answer.status_code in (200, 404, 422), answer.text


def test_hosts_carry_their_newest_values_at_a_glance(client: TestClient) -> None:
    hosts = {h["host"]: h["now"] for h in client.get("/api/v1/hosts").json()["hosts"]}

    assert hosts["web-1"] == {
        "ts_ms": NOW_MS - 500,
        "cpu_percent": 7.0,
        "mem_percent": None,
        "disk_percent": None,
        "load1": None,
    }
    assert hosts["old-1"] is None
    assert hosts["db-1"] is None  # nothing in the hot tier


def test_hosts_show_completeness_from_sequence_gaps(client: TestClient) -> None:
    hosts = {h["host"]: h["completeness"] for h in client.get("/api/v1/hosts").json()["hosts"]}

    assert hosts["web-1"] == {"batches": 8, "missing_batches": 2, "percent": 80.0}
    assert hosts["db-1"] == {"batches": 8, "missing_batches": 0, "percent": 100.0}
    assert hosts["old-1"] == {"batches": 0, "missing_batches": 0, "percent": None}
    assert hosts["seed-1"] is None  # the seed agent numbers no batches: no gaps to count


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
    assert day.json()["series"] == [
        {
            "metric": "cpu.percent",
            "points": [[int((NOW - timedelta(hours=24)).timestamp() * 1000), 2.0, 1.0, 3.0, 3]],
        }
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
        ({"host": "web-1", "metric": "cpu.percent", "tier": "2m"}, 422, "tier"),
        ({"metric": "cpu.percent"}, 422, "host"),
        ({"host": "web-1"}, 422, "metric"),
        ({"host": "web-1", "metric": "gpu.*"}, 200, '"series":[]'),
    ],
)
def test_bad_parameters_get_a_clear_4xx(
    client: TestClient, params: dict[str, str], status: int, fragment: str
) -> None:
    response = client.get("/api/v1/series", params=params)

    assert response.status_code == status
    assert fragment in response.text


def test_a_host_is_found_whatever_the_case_a_link_names_it_in(client: TestClient) -> None:
    expected = client.get("/api/v1/hosts/web-1/latest").json()

    assert client.get("/api/v1/hosts/WEB-1/latest").json() == expected
    series = client.get("/api/v1/series", params={"host": "Web-1", "metric": "cpu.percent"})
    assert series.status_code == 200 and series.json()["host"] == "web-1"


def test_latest_snapshot_comes_from_the_hot_tier_or_404(client: TestClient) -> None:
    latest = client.get("/api/v1/hosts/web-1/latest")

    assert latest.json()["source"] == "hot"
    assert latest.json()["sample"]["processes"][0]["name"] == "<img src=x>"
    assert client.get("/api/v1/hosts/nobody/latest").status_code == 404


def test_the_api_is_documented() -> None:
    paths = create_app(SETTINGS).openapi()["paths"]

    assert {
        "/api/v1/hosts",
        "/api/v1/series",
        "/api/v1/hosts/{host}/latest",
        "/api/v1/hosts/{host}/recent",
        "/api/v1/hosts/{host}/processes/{pid}",
        "/api/metrics/recent",
        "/health",
    } <= set(paths)


def test_several_metrics_share_one_axis_and_globs_expand_in_natural_order(
    client: TestClient, reader: MemoryReader
) -> None:
    answer = client.get(
        "/api/v1/series",
        params=[("host", "web-1"), ("metric", "cpu.percent"), ("metric", "cpu.core:*")],
    ).json()

    assert [s["metric"] for s in answer["series"]] == [
        "cpu.percent",
        "cpu.core:0",
        "cpu.core:1",
        "cpu.core:2",
        "cpu.core:10",
    ]
    assert all(len(s["points"]) == 1 for s in answer["series"])
    assert len(reader.calls) == 1, "one query for every metric"


def test_a_metric_without_points_in_the_range_is_listed_empty(client: TestClient) -> None:
    answer = client.get("/api/v1/series", params={"host": "web-1", "metric": "mem.percent"})

    assert answer.json()["series"] == [{"metric": "mem.percent", "points": []}]


def test_recent_serves_the_hot_window_as_sent(client: TestClient) -> None:
    recent = client.get("/api/v1/hosts/web-1/recent").json()

    assert [s["ts"] for s in recent["samples"]] == [NOW_MS - 10_000, NOW_MS - 5_000]
    assert client.get("/api/v1/hosts/web-1/recent", params={"seconds": 7}).json()["samples"] == [
        WINDOW[2]
    ]
    assert client.get("/api/v1/hosts/old-1/recent").json()["samples"] == []
    assert client.get("/api/v1/hosts/nobody/recent").status_code == 404
    assert client.get("/api/v1/hosts/web-1/recent", params={"seconds": 0}).status_code == 422


def test_process_history(client: TestClient) -> None:
    history = client.get("/api/v1/hosts/web-1/processes/42", params={"from": "-2h"})

    [point] = history.json()["points"]
    assert point["ts_ms"] == int((NOW - timedelta(hours=2)).timestamp() * 1000) + 1000
    assert (point["name"], point["threads"], point["status"]) == ("postgres", 4, "sleeping")
    assert client.get("/api/v1/hosts/web-1/processes/43").json()["points"] == []
    assert client.get("/api/v1/hosts/nobody/processes/1").status_code == 404
    assert client.get("/api/v1/hosts/web-1/processes/x").status_code == 422
    assert client.get("/api/v1/hosts/web-1/processes/42", params={"to": "-2h"}).status_code == 400


def test_seed_recent_answers_in_the_seed_shape(client: TestClient, reader: MemoryReader) -> None:
    snapshots = client.get("/api/metrics/recent").json()  # the host seen last: web-1

    assert [s["total_cpu_percent"] for s in snapshots] == [5.0, 7.0]
    assert snapshots[0]["per_core_cpu_percent"] == [4.0, 6.0]
    # The stored sample's processes, the 12 busiest as the seed keeps them, busiest first.
    assert [p["cpu_percent"] for p in snapshots[0]["top_processes"]] == [
        float(n) for n in range(13, 1, -1)
    ]
    assert reader.process_spans == [("web-1", ms_time(NOW_MS - 10_000), ms_time(NOW_MS - 4_999))]
    assert snapshots[1]["timestamp"] == (NOW_MS - 5_000) / 1000
    assert snapshots[1]["system_memory_total_mb"] == 2048.0
    assert snapshots[1]["top_processes"] == [
        {
            "pid": 7,
            "name": "<img src=x>",
            "cpu_percent": 12.5,
            "memory_mb": 3.0,
            "thread_count": 0,
            "io_read_mb": 0.0,
            "io_write_mb": 0.0,
            "handle_count": None,
        }
    ]
    assert client.get("/api/metrics/recent", params={"host": "old-1"}).json() == []


@pytest.mark.parametrize("host", ["\x00web-1", "web 1", "-web", "w" * 254, "wéb"])
def test_a_name_no_host_can_have_is_refused_before_any_store_is_asked(
    client: TestClient, host: str
) -> None:
    """Found by the API fuzzing: a NUL byte in ?host= reached PostgreSQL, which refuses it."""
    for path, params in (
        ("/api/metrics/recent", {"host": host}),
        ("/api/v1/series", {"host": host, "metric": "cpu.percent"}),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == 422, (path, answer.text)


def guarded_client(reader: MemoryReader, **settings: Any) -> TestClient:
    configured = SETTINGS.model_copy(update=settings)
    app = create_app(configured)
    service = QueryService(reader, MemoryHot(), default_tiers(), max_points=1000)
    app.dependency_overrides[get_query_service] = lambda: service
    app.dependency_overrides[get_now] = lambda: NOW
    return TestClient(app)


def test_a_configured_read_token_guards_every_data_route(reader: MemoryReader) -> None:
    client = guarded_client(reader, read_token=SecretStr("s3cret"))

    missing = client.get("/api/v1/hosts")
    wrong = client.get("/api/v1/hosts", headers={"Authorization": "Bearer nope"})

    assert missing.status_code == 401 and "required" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert wrong.status_code == 401 and "wrong" in wrong.json()["detail"]
    assert client.get("/api/metrics/recent").status_code == 401
    assert client.get("/api/v1/hosts", headers={"Authorization": "Bearer s3cret"}).is_success
    assert client.get("/api/v1/hosts", params={"token": "s3cret"}).is_success


def test_without_a_read_token_reads_are_closed_unless_said_public(reader: MemoryReader) -> None:
    closed = guarded_client(reader, public_read=False)
    public = guarded_client(reader, public_read=True)

    anonymous = closed.get("/api/v1/hosts")
    guessed = closed.get("/api/v1/hosts", headers={"Authorization": "Bearer anything"})

    assert anonymous.status_code == 401 and "sign-in" in anonymous.json()["detail"]
    assert guessed.status_code == 401 and "no read token" in guessed.json()["detail"]
    assert closed.get("/api/metrics/recent").status_code == 401
    assert public.get("/api/v1/hosts").is_success


def test_cors_allows_only_the_configured_origins(reader: MemoryReader) -> None:
    client = guarded_client(reader, cors_origins="https://ops.example, https://noc.example")

    allowed = client.get("/api/v1/hosts", headers={"Origin": "https://noc.example"})
    other = client.get("/api/v1/hosts", headers={"Origin": "https://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == "https://noc.example"
    assert "access-control-allow-origin" not in other.headers


def test_the_api_says_whether_it_serves_the_live_websocket(reader: MemoryReader) -> None:
    here = guarded_client(reader).get("/api/v1/live")
    on_lambda = guarded_client(reader, live_websocket=False).get("/api/v1/live")

    assert here.json() == {"websocket": True}
    assert on_lambda.json() == {"websocket": False}


@pytest.mark.parametrize(
    "bad_time",
    [
        "nan",
        "inf",
        "-inf",
        "1e20",
        "1e400",
        "-1e12",
        "-999999999999w",
        "now-999999999999w",
        "0001-01-01",
    ],
)
@pytest.mark.parametrize(
    "route",
    ["/api/v1/series?host=web-1&metric=cpu.percent&from=", "/api/v1/hosts/web-1/processes/1?from="],
)
def test_a_time_no_calendar_holds_is_a_400_not_a_500(
    client: TestClient, route: str, bad_time: str
) -> None:
    response = client.get(route + bad_time)
    assert response.status_code == 400, response.text
    assert "from" in response.json()["detail"]


@pytest.mark.parametrize("step", ["99999999999999999999", "999999999999w", "0", "-5", "1.5"])
def test_a_step_beyond_ten_years_or_not_a_duration_is_a_400(client: TestClient, step: str) -> None:
    response = client.get(f"/api/v1/series?host=web-1&metric=cpu.percent&from=-1h&step={step}")
    assert response.status_code == 400, response.text


def test_metrics_a_host_never_sent_are_listed_not_a_404_while_others_are_found(
    client: TestClient,
) -> None:
    # What the host page asks of a host that reports through the seed endpoint.
    response = client.get(
        "/api/v1/series",
        params={"host": "web-1", "metric": ["cpu.percent", "cpu.user", "load.*"], "from": "-1h"},
    )

    assert response.status_code == 200, response.text
    assert [s["metric"] for s in response.json()["series"]] == ["cpu.percent"]
    assert response.json()["missing"] == ["cpu.user"]


def test_the_dashboard_and_the_api_send_headers_that_keep_them_unframed_and_unleaked(
    client: TestClient,
) -> None:
    for path in ("/", "/api/v1/hosts"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "connect-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"


def test_every_data_route_answers_401_without_the_read_token(reader: MemoryReader) -> None:
    client = guarded_client(reader, read_token=SecretStr("s3cret"))
    described = client.get("/openapi.json").json()["paths"]
    health = {"/health", "/api/v1/health"}  # for load balancers and probes: open by design
    data_routes = [path for path, ops in described.items() if "get" in ops and path not in health]

    assert "/api/v1/pipeline/history" in data_routes and "/metrics" in data_routes
    for path in data_routes:
        concrete = re.sub(r"\{[^}]+\}", "web-1", path)
        assert client.get(concrete).status_code == 401, path
